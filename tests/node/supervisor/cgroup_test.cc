// Tests of node/supervisor/cgroup: detection from fixture text (v1, pure v2, hybrid), and —
// as root on a host with the controllers — real cgroups: a memory limit kills a process that
// allocates past it, a CPU limit throttles a process that burns.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "node/script_process.h"
#include "node/supervisor/cgroup.h"

using namespace shoal;
using namespace shoal::node::supervisor;
namespace fs = std::filesystem;

namespace {

// This machine's layout: v1 controllers plus an empty v2 mount (docs: HOST.md).
constexpr const char* kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
constexpr const char* kProcCgroups =
    "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
    "cpu\t1\t1\t1\ncpuacct\t2\t1\t1\nmemory\t4\t74\t1\npids\t8\t1\t1\nhugetlb\t0\t1\t1\n";
constexpr const char* kSelfHybrid =
    "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n";

}  // namespace

TEST_CASE("cgroup: mountinfo lines parse, escapes decoded, junk skipped", "[supervisor]") {
  auto mounts = parse_mountinfo(
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory\n"
      "not a mountinfo line\n"
      "50 31 0:40 /sub /mnt/with\\040space rw - cgroup2 none rw,nsdelegate\n");
  REQUIRE(mounts.size() == 2);
  CHECK(mounts[0].mount_point == "/sys/fs/cgroup/memory");
  CHECK(mounts[0].fstype == "cgroup");
  CHECK(mounts[0].super_options == std::vector<std::string>{"rw", "memory"});
  CHECK(mounts[1].mount_point == "/mnt/with space");
  CHECK(mounts[1].root == "/sub");
  CHECK(mounts[1].fstype == "cgroup2");
}

TEST_CASE("cgroup: v1 hierarchies with an empty v2 mount (this host)", "[supervisor]") {
  auto host = detect_from_text(kHybridMountinfo, kProcCgroups, kSelfHybrid, "hugetlb\n");
  CHECK(host.v1.at("memory") == "/sys/fs/cgroup/memory/process_api/abc");  // under our own
  CHECK(host.v1.at("cpu") == "/sys/fs/cgroup/cpu");
  CHECK(host.v1.at("cpuacct") == "/sys/fs/cgroup/cpuacct");
  CHECK(host.v1.at("pids") == "/sys/fs/cgroup/pids");
  REQUIRE(host.v2);
  CHECK(*host.v2 == "/sys/fs/cgroup/unified");
  CHECK(host.v2_controllers.empty());
  CHECK(host.missing.empty());
}

TEST_CASE("cgroup: a pure v2 host uses the unified hierarchy's controllers", "[supervisor]") {
  const char* mountinfo = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
  auto host = detect_from_text(mountinfo, "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
                                          "memory\t0\t90\t1\ncpu\t0\t90\t1\npids\t0\t90\t1\n",
                               "0::/system.slice/shoal.service\n", "cpuset cpu io memory pids\n");
  CHECK(host.v1.empty());
  REQUIRE(host.v2);
  CHECK(*host.v2 == "/sys/fs/cgroup/system.slice/shoal.service");
  CHECK(host.v2_controllers == std::set<std::string>{"cpu", "memory", "pids"});
  CHECK(host.missing.empty());
}

TEST_CASE("cgroup: a controller neither version offers is listed as missing", "[supervisor]") {
  const char* mountinfo =
      "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
  // pids is disabled in the kernel, cpu is mounted nowhere, v2 has no controllers.
  auto host = detect_from_text(mountinfo, "memory\t4\t1\t1\npids\t8\t1\t0\n", "4:memory:/\n0::/\n", "");
  CHECK(host.v1.count("memory") == 1);
  CHECK(host.missing == std::vector<std::string>{"cpu", "pids"});
  CHECK(host.describe().find("missing=cpu,pids") != std::string::npos);
}

TEST_CASE("cgroup: a memory limit kills a process that allocates past it", "[supervisor]") {
  auto host = detect_cgroup_host();
  const bool has_memory = host.v1.count("memory") || host.v2_controllers.count("memory");
  if (::geteuid() != 0 || !has_memory) {
    WARN("skipped: needs root and a memory controller (" << host.describe() << ")");
    return;
  }
  const std::string leaf = "cgtest-" + std::to_string(::getpid());
  auto cg = Cgroup::create(host, {"shoal-test", leaf}, CgroupLimits{32, 500, 64});
  REQUIRE(cg.ok());
  const fs::path procs = cg->dirs().front() / "cgroup.procs";
  // The shell joins the cgroup, then a pipeline buffers 256 MB (tail keeps a line without
  // a newline whole): tail must be OOM-killed.
  node::ScriptLimits limits;
  limits.timeout = std::chrono::seconds(20);
  std::string script = "echo $$ > " + procs.string();
  for (size_t i = 1; i < cg->dirs().size(); ++i) {
    script += "; echo $$ > " + (cg->dirs()[i] / "cgroup.procs").string();
  }
  script += "; head -c 268435456 /dev/zero | tail -n 1 | wc -c";
  auto run = node::run_script(script, {}, "", limits);
  CHECK(run.end == node::ScriptRun::End::exited);
  CHECK(run.out != "268435456\n");
  auto usage = cg->usage();
  CHECK(usage.oom_kills >= 1);
  CHECK(cg->pids().empty());
  REQUIRE(cg->remove().ok());
  for (const auto& d : cg->dirs()) {
    CHECK_FALSE(fs::exists(d));
    ::rmdir(d.parent_path().c_str());
  }
}

TEST_CASE("cgroup: a CPU limit of 200 millis throttles a burning process", "[supervisor]") {
  auto host = detect_cgroup_host();
  if (::geteuid() != 0 || !host.limits_cpu()) {
    WARN("skipped: needs root and a cpu controller (" << host.describe() << ")");
    return;
  }
  const std::string leaf = "cgcpu-" + std::to_string(::getpid());
  auto cg = Cgroup::create(host, {"shoal-test", leaf}, CgroupLimits{32, 200, 64});
  REQUIRE(cg.ok());
  // Memory: RSS and, where the host accounts it, RSS + swap are both capped at the limit.
  for (const auto& d : cg->dirs()) {
    for (const char* f : {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.max"}) {
      if (!fs::exists(d / f)) continue;
      std::ifstream in(d / f);
      int64_t v = 0;
      in >> v;
      CHECK(v == 32 * 1024 * 1024);
    }
  }
  const CgroupUsage before = cg->usage();
  REQUIRE(before.cpu_ns >= 0);
  std::string script;
  for (const auto& d : cg->dirs()) script += "echo $$ > " + (d / "cgroup.procs").string() + "; ";
  // Two seconds of a shell loop that never sleeps: unthrottled, a whole core.
  script += "timeout 2 sh -c 'while :; do :; done'; true";
  node::ScriptLimits limits;
  limits.timeout = std::chrono::seconds(20);
  const auto t0 = std::chrono::steady_clock::now();
  auto run = node::run_script(script, {}, "", limits);
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(run.end == node::ScriptRun::End::exited);
  const CgroupUsage after = cg->usage();
  const double cores = static_cast<double>(after.cpu_ns - before.cpu_ns) / 1e9 / wall_s;
  INFO("burned " << cores * 100 << "% of a core over " << wall_s << " s; throttled "
                 << after.nr_throttled << " periods");
  CHECK(cores > 0.02);   // it did burn
  CHECK(cores < 0.5);    // ...but nowhere near the core it would take unthrottled
  CHECK(after.nr_throttled > 0);
  CHECK(cg->pids().empty());
  REQUIRE(cg->remove().ok());
  for (const auto& d : cg->dirs()) ::rmdir(d.parent_path().c_str());
}

TEST_CASE("cgroup: oom_message names the limit", "[supervisor]") {
  CHECK(oom_message(32) == "killed: out of memory (limit 32 MB)");
}
