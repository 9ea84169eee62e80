// Issue 8 point 4 end to end on a one-node loopback cluster of the real agent: an app whose
// instances burn CPU while a file exists is autoscaled up to its max and back to its min,
// and a worker that allocates past its 32 MB limit is OOM-killed and shown so by `shoal ps`.
// Issue 9 point 3: a web app is autoscaled by its requests per second through the router.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "node/http_client.h"
#include "node/supervisor/cgroup.h"
#include "tests/integration/request_loop.h"
#include "tests/support/process.h"

namespace shoal::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

template <typename F>
bool wait_until(std::chrono::milliseconds limit, F ok) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

struct OneNode {
  std::unique_ptr<AgentProcess> agent = AgentProcess::start("n0", {"--log-level", "debug"});
  fs::path scratch = make_temp_dir("shoal-autoscale");

  OneNode() {
    REQUIRE(agent->wait_healthy());
    REQUIRE(wait_until(30s, [&] { return agent->client(3s).call("GET", "/v1/apps").ok(); }));
    ::chmod(scratch.c_str(), 0755);  // the apps' uids read files below it
  }
  ~OneNode() {
    if (agent->running()) agent->terminate(30s);
    std::error_code ec;
    fs::remove_all(scratch, ec);
  }

  CommandResult cli(std::vector<std::string> args, std::chrono::milliseconds timeout = 120s) {
    args.insert(args.begin() + 1, {"--addr", agent->http_url()});
    return run_command(args, timeout);
  }
  json get(const std::string& path) {
    auto r = agent->client(5s).call("GET", path);
    return r.ok() ? *r : json::object();
  }
  int count(const std::string& app, const std::string& type) {
    const json info = get("/v1/apps/" + app);
    if (!info.contains("formation") || !info["formation"].contains(type)) return -1;
    return info["formation"][type].value("count", -1);
  }
  // A copy of examples/NAME with `toml` as its shoal.toml.
  fs::path example(const std::string& name, const std::string& toml) {
    const fs::path dir = scratch / name;
    fs::copy(fs::path(SHOAL_SOURCE_DIR) / "examples" / name, dir, fs::copy_options::recursive);
    std::ofstream(dir / "shoal.toml", std::ios::trunc) << toml;
    return dir;
  }
};

}  // namespace

TEST_CASE("autoscale: a burning app scales up to max, and back to min once calm",
          "[integration][apps][autoscale]") {
  const auto host = node::supervisor::detect_cgroup_host();
  if (::geteuid() != 0 || !host.limits_cpu()) {
    WARN("skipped: CPU use is measured and limited through cgroups (needs root and a cpu "
         "controller; " << host.describe() << ")");
    return;
  }
  OneNode c;
  const fs::path burn = c.scratch / "burn";
  const fs::path app = c.example("cpu-burner",
                                 "[env]\nBURN_FILE = \"" + burn.string() + "\"\n"
                                 "[limits]\nmemory_mb = 64\ncpu_millis = 200\n"
                                 "[autoscale.web]\nmin = 1\nmax = 3\ntarget_cpu_percent = 50\n"
                                 "cooldown = \"3s\"\nwindow = \"3s\"\n");
  auto dep = c.cli({"deploy", app.string(), "--app", "burner"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  CHECK(c.count("burner", "web") == 1);

  // Manual scales stay within [min, max].
  auto bad = c.cli({"scale", "burner", "web=5"}, 30s);
  CHECK(bad.exit_code != 0);
  CHECK_THAT(bad.err + bad.out, Catch::Contains("web autoscales from 1 to 3"));

  std::ofstream(burn) << "burn\n";
  int highest = 0;
  json burning_ps;
  const bool up = wait_until(60s, [&] {
    highest = std::max(highest, c.count("burner", "web"));
    return highest == 3;
  });
  INFO("highest count " << highest);
  REQUIRE(up);
  // ps shows what the leader measured: each running instance near its limit, throttled.
  REQUIRE(wait_until(20s, [&] {
    burning_ps = c.get("/v1/apps/burner/ps");
    for (const auto& i : burning_ps.value("instances", json::array())) {
      const json u = i.value("usage", json::object());
      if (i.value("state", "") == "running" && u.value("cpu_percent", 0.0) > 50) return true;
    }
    return false;
  }));
  for (const auto& i : burning_ps.value("instances", json::array())) {
    const json u = i.value("usage", json::object());
    if (!u.empty() && u.value("cpu_millis", -1) >= 0) CHECK(u.value("cpu_millis", 0) < 600);
  }
  auto ps = c.cli({"ps", "burner"}, 30s);
  CHECK(ps.exit_code == 0);
  CHECK_THAT(ps.out, Catch::Contains("CPU") && Catch::Contains("Mem") && Catch::Contains("%"));

  fs::remove(burn);
  int lowest = 3;
  const bool down = wait_until(60s, [&] {
    const int n = c.count("burner", "web");
    if (n > 0) lowest = std::min(lowest, n);
    return n == 1;
  });
  INFO("lowest count " << lowest);
  CHECK(down);
  // The autoscaler said why, in the agent's log.
  CHECK_THAT(c.agent->log(), Catch::Contains("by=autoscaler reason=\"mean CPU"));
}

TEST_CASE("autoscale: a worker past its 32 MB limit is OOM-killed and ps says so",
          "[integration][apps][autoscale]") {
  const auto host = node::supervisor::detect_cgroup_host();
  if (::geteuid() != 0 || !host.limits_memory()) {
    WARN("skipped: memory limits cannot be enforced on this host (needs root and a memory "
         "controller; " << host.describe() << ")");
    return;
  }
  OneNode c;
  const fs::path app = fs::path(SHOAL_SOURCE_DIR) / "examples/oom-hog";
  // Not followed: its only instance never stays up (that is the point).
  auto dep = c.cli({"deploy", app.string(), "--app", "hog", "--no-follow"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  json killed;
  REQUIRE(wait_until(60s, [&] {
    for (const auto& i : c.get("/v1/apps/hog/ps").value("instances", json::array())) {
      if (i.value("message", "").find("killed: out of memory (limit 32 MB)") != std::string::npos) {
        killed = i;
        return true;
      }
    }
    return false;
  }));
  CHECK(killed.value("restarts", 0) >= 1);
  // `shoal ps` notes the reason under the table while the instance is not running (it is,
  // briefly, between two kills: look again then).
  const std::string note = killed.value("id", "") + ": killed: out of memory (limit 32 MB)";
  CommandResult ps;
  CHECK(wait_until(30s, [&] {
    ps = c.cli({"ps", "hog"}, 30s);
    return ps.exit_code == 0 && ps.out.find(note) != std::string::npos;
  }));
  INFO(ps.out);
  CHECK_THAT(ps.out, Catch::Contains(note));
}

}  // namespace shoal::test

namespace shoal::test {

TEST_CASE("autoscale: web scales up on requests per second through the router, and back "
          "down once they stop",
          "[integration][apps][autoscale][router]") {
  OneNode c;
  // No CPU limit and an unreachable CPU target: requests alone decide.
  const fs::path app = c.example("python-web",
                                 "[formation]\nweb = 1\n\n"
                                 "[autoscale.web]\nmin = 1\nmax = 3\ntarget_cpu_percent = 100\n"
                                 "target_rps = 4\ncooldown = \"2s\"\nwindow = \"6s\"\n");
  auto dep = c.cli({"deploy", app.string(), "--app", "rpsweb"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  REQUIRE(c.count("rpsweb", "web") == 1);

  AgentProcess& agent = *c.agent;
  RequestLoop loop(
      [&agent](const RequestLoop::Record& record) {
        node::HttpExchange ex;
        ex.target = "/";
        ex.timeout = 5s;
        ex.headers.emplace("Host", "rpsweb.localhost");
        record("", node::http_request("127.0.0.1", agent.router_port(), ex));
      },
      25ms, 180s);
  // Well over 4 requests/s on one instance: the leader's autoscaler adds instances.
  REQUIRE(wait_until(20s, [&] { return loop.ok() >= 20; }));
  CHECK(wait_until(90s, [&] { return c.count("rpsweb", "web") >= 2; }));
  const std::string log = agent.log();
  CHECK_THAT(log, Catch::Contains("by=autoscaler reason=\"") && Catch::Contains("requests/s"));
  loop.stop();
  // No requests: back to min once the window has seen none.
  CHECK(wait_until(90s, [&] { return c.count("rpsweb", "web") == 1; }));
}

}  // namespace shoal::test
