// Issue 8, zero-downtime rolling deploys, end to end: a 3-node loopback cluster runs
// examples/health-web (3 health-checked web instances that drain on SIGTERM) while a client
// loop requests every instance that is up through its port. A rolling deploy of v2, a
// rolling restart, and a broken release (its health check fails) that the app leader rolls
// back on its own must all pass without one failed request.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "node/http_client.h"
#include "tests/integration/apps_cluster.h"
#include "tests/integration/request_loop.h"

namespace shoal::test {
namespace {

bool is_up(const json& i) {
  const std::string health = i.value("health", "none");
  return i.value("desired", false) && i.value("state", "") == "running" &&
         (health == "healthy" || health == "none") && i.value("port", 0) != 0;
}

// Requests every instance that is up, as `shoal ps` reports it (refreshed every 250 ms):
// an instance counts from when it is up until it is unplaced (then ps says `stopping`).
RequestLoop::Round every_up_instance(AgentProcess& via, std::string app) {
  struct Seen {
    std::map<std::string, int> up;  // id -> port
    std::chrono::steady_clock::time_point refreshed{};
  };
  auto seen = std::make_shared<Seen>();
  return [&via, app = std::move(app), seen](const RequestLoop::Record& record) {
    if (std::chrono::steady_clock::now() - seen->refreshed > 250ms) {
      auto ps = via.client(2s).call("GET", "/v1/apps/" + app + "/ps");
      if (ps.ok() && ps->contains("instances")) {
        seen->up.clear();
        for (const auto& i : (*ps)["instances"]) {
          if (is_up(i)) seen->up[i.value("id", "")] = i.value("port", 0);
        }
        seen->refreshed = std::chrono::steady_clock::now();
      }
    }
    for (const auto& [id, port] : seen->up) {
      node::HttpExchange ex;
      ex.target = "/";
      ex.timeout = 5s;
      record(id + " on port " + std::to_string(port), node::http_request("127.0.0.1", port, ex));
    }
  };
}

std::vector<json> up_instances(const json& ps) {
  std::vector<json> out;
  const json list = ps.contains("instances") ? ps["instances"] : json::array();
  for (const auto& i : list) {
    if (is_up(i)) out.push_back(i);
  }
  return out;
}

}  // namespace

TEST_CASE("rolling: deploy, restart and an automatic rollback with no failed request",
          "[integration][apps][rolling]") {
  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];
  AgentProcess& n1 = *c.agents[1];
  const fs::path app = c.scratch / "app";

  // v1: three instances, up (healthy) when the deploy says done.
  write_health_web(app, "");
  auto dep = c.cli(n0, {"deploy", app.string(), "--app", "rw"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  REQUIRE(wait_for(30s, [&] { return up_instances(c.ps(n0, "rw")).size() == 3; }));

  RequestLoop loop(every_up_instance(n1, "rw"), 50ms, 240s);
  REQUIRE(wait_for(10s, [&] { return loop.ok() >= 30; }));

  // v2 rolls: new instances come up before old ones get SIGTERM.
  write_health_web(app, "RELEASE_NOTE = \"two\"\n");
  dep = c.cli(n0, {"deploy", app.string(), "--app", "rw"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  json ps;
  REQUIRE(wait_for(60s, [&] {
    ps = c.ps(n0, "rw");
    auto up = up_instances(ps);
    return up.size() == 3 && std::all_of(up.begin(), up.end(), [](const json& i) {
             return i.value("release", 0) == 2;
           }) && ps["instances"].size() == 3;  // the old ones stopped and were forgotten
  }));
  std::set<std::string> v2_ids;
  for (const auto& i : up_instances(ps)) v2_ids.insert(i.value("id", ""));
  REQUIRE(wait_for(10s, [&] { return loop.releases_seen().count("v2") == 1; }));

  // A rolling restart: every instance replaced, one at a time.
  auto restart = c.cli(n0, {"restart", "rw"});
  INFO(restart.out << restart.err);
  REQUIRE(restart.exit_code == 0);
  REQUIRE(wait_for(60s, [&] {
    ps = c.ps(n0, "rw");
    auto up = up_instances(ps);
    if (up.size() != 3 || ps["instances"].size() != 3) return false;
    for (const auto& i : up) {
      if (v2_ids.count(i.value("id", ""))) return false;
    }
    return true;
  }));

  // v3's health check fails: the leader rolls it back to v2's code (a new v4) while v2's
  // instances keep serving; the deploy says so and fails.
  write_health_web(app, "RELEASE_NOTE = \"three\"\nBROKEN = \"1\"\n");
  const int before_broken = loop.ok();
  dep = c.cli(n0, {"deploy", app.string(), "--app", "rw"});
  INFO(dep.out << dep.err);
  CHECK(dep.exit_code != 0);
  const std::string said = dep.out + dep.err;
  CHECK(said.find("rolled back automatically") != std::string::npos);
  CHECK(said.find("unhealthy") != std::string::npos);
  CHECK(said.find("HTTP 500") != std::string::npos);
  ps = c.ps(n0, "rw");
  CHECK(ps.value("release", 0) == 4);
  auto rel = n0.client(5s).call("GET", "/v1/apps/rw/releases");
  REQUIRE(rel.ok());
  bool found = false;
  for (const auto& r : (*rel)["releases"]) {
    if (r.value("version", 0) != 4) continue;
    found = true;
    CHECK(r.value("current", false));
    CHECK(r.value("description", "").rfind("automatic rollback of v3 to v2: instance web.", 0) == 0);
  }
  CHECK(found);
  auto releases_cmd = c.cli(n0, {"releases", "rw"});
  CHECK(releases_cmd.out.find("automatic rollback of v3 to v2") != std::string::npos);

  // The broken instance goes; v2's code keeps serving from the same processes.
  REQUIRE(wait_for(30s, [&] {
    ps = c.ps(n0, "rw");
    return up_instances(ps).size() == 3 && ps["instances"].size() == 3;
  }));
  for (const auto& i : up_instances(ps)) CHECK(i.value("release", 0) == 2);
  REQUIRE(wait_for(10s, [&] { return loop.ok() >= before_broken + 30; }));

  loop.stop();
  CHECK_FALSE(loop.timed_out());
  const auto failures = loop.failures();
  INFO("requests ok: " << loop.ok() << ", failed: " << failures.size()
                       << (failures.empty() ? "" : ", first: " + failures[0]));
  CHECK(failures.empty());
  CHECK(loop.ok() >= 100);  // it did request, all along
  CHECK(loop.releases_seen() == std::set<std::string>{"v1", "v2"});  // never v3
  CHECK(loop.labels_seen().size() >= 9);  // v1's three, v2's three, the restart's three
}

}  // namespace shoal::test
