// Resource use through the supervisor with real processes (docs/supervisor.md, "Resource
// use"): an instance that allocates past its memory limit is OOM-killed and reported so,
// and a burning instance's report carries its (throttled) CPU rate and memory.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>

#include "node/supervisor/cgroup.h"
#include "node/supervisor/supervisor.h"
#include "tests/node/supervisor/supervisor_fixture.h"

using namespace shoal;
using namespace shoal::node::supervisor;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using namespace shoal::test::supervisor_fixture;

TEST_CASE("supervisor: an instance past its memory limit is reported killed: out of memory",
          "[supervisor][resources]") {
  const CgroupHost host = detect_cgroup_host();
  if (::geteuid() != 0 || !host.limits_memory()) {
    WARN("skipped: memory limits cannot be enforced here (needs root and a memory controller; "
         << host.describe() << ")");
    return;
  }
  Fixture f;
  fs::copy_file(fs::path(SHOAL_SOURCE_DIR) / "examples/oom-hog/hog.py", f.release_dir / "hog.py");
  InstanceSpec spec = Fixture::spec("worker.1", "python3 hog.py");
  spec.memory_mb = 32;
  REQUIRE(f.assign(1, {spec}).ok());
  auto s = f.wait_for(
      "worker.1",
      [](const InstanceStatus& st) {
        return (st.state == InstanceState::backoff || st.state == InstanceState::crashed) &&
               st.restarts >= 1;
      },
      60s);
  REQUIRE(s);
  CHECK(s->message.rfind("killed: out of memory (limit 32 MB)", 0) == 0);
  CHECK_FALSE(f.log_has("without being stopped", 100ms));
  // It restarts as any crash does (backoff), and is killed again.
  auto again = f.wait_for(
      "worker.1", [](const InstanceStatus& st) { return st.restarts >= 2; }, 60s);
  REQUIRE(again);
  CHECK(again->message.find("killed: out of memory") != std::string::npos);
}

TEST_CASE("supervisor: a running instance's report carries its CPU rate and memory",
          "[supervisor][resources]") {
  const CgroupHost host = detect_cgroup_host();
  if (::geteuid() != 0 || !host.limits_cpu()) {
    WARN("skipped: needs root and a cpu controller (" << host.describe() << ")");
    return;
  }
  Fixture f;
  InstanceSpec spec = Fixture::spec("web.1", "exec sh -c 'while :; do :; done'");
  spec.cpu_millis = 200;
  REQUIRE(f.assign(1, {spec}).ok());
  REQUIRE(f.wait_for("web.1", running));
  // Samples come every second; a rate needs two. Wait (bounded) for one that shows the burn.
  std::optional<ResourceUsage> seen;
  const auto deadline = steady_now() + 20s;
  while (steady_now() < deadline) {
    auto st = f.status("web.1");
    if (st && st->usage && st->usage->cpu_percent > 30) {
      seen = st->usage;
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(seen);
  INFO("cpu_millis=" << seen->cpu_millis << " cpu_percent=" << seen->cpu_percent
                     << " window_ms=" << seen->window_ms);
  CHECK(seen->cpu_millis < 500);  // the quota holds it near 200 millis, never a core
  CHECK(seen->window_ms > 0);
  CHECK(seen->memory_bytes > 0);
  CHECK(seen->oom_kills == 0);
  CHECK(seen->sampled_ms > 0);
  // The assign answer carries it too, and it survives the JSON between nodes.
  auto r = f.assign(1, {spec});
  REQUIRE(r.ok());
  REQUIRE(r->instances.size() == 1);
  REQUIRE(r->instances[0].usage);
  auto parsed = parse_assign_report(to_json(*r).dump());
  REQUIRE(parsed.ok());
  REQUIRE(parsed->instances[0].usage);
  CHECK(parsed->instances[0].usage->sampled_ms == r->instances[0].usage->sampled_ms);
  CHECK(parsed->instances[0].usage->memory_bytes == r->instances[0].usage->memory_bytes);
  CHECK(parsed->instances[0].usage->cpu_percent == Approx(r->instances[0].usage->cpu_percent).margin(0.06));
}
