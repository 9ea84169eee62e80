// Resource use across the cluster (issue 11, point 1): every node samples itself and its
// instances, and any node answers for all of them: GET /v1/nodes, GET /v1/metrics/apps[/APP],
// `shoal top` and `shoal nodes`, on a real 3-node cluster running a CPU-burning app.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "node/supervisor/cgroup.h"
#include "tests/integration/apps_cluster.h"
#include "tests/support/process.h"

namespace shoal::test {
namespace {

json get(AgentProcess& node, const std::string& path) {
  auto r = node.client(10s).call("GET", path);
  return r.ok() ? *r : json::object();
}

// The app's instances in a GET /v1/metrics/apps(/APP) answer.
std::vector<json> instances_of(const json& usage, const std::string& app) {
  std::vector<json> out;
  for (const auto& i : usage.value("instances", json::array())) {
    if (i.value("app", "") == app) out.push_back(i);
  }
  return out;
}

}  // namespace

TEST_CASE("reporting: any node shows every node and instance with its use, a burning app "
          "runs near its CPU limit",
          "[integration][reporting]") {
  const auto host = node::supervisor::detect_cgroup_host();
  if (::geteuid() != 0 || !host.limits_cpu()) {
    WARN("skipped: CPU use is measured and limited through cgroups (needs root and a cpu "
         "controller; " << host.describe() << ")");
    return;
  }
  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];
  AgentProcess& n2 = *c.agents[2];

  // Two instances, each held to a fifth of a core, told to burn a whole one.
  const fs::path app = c.scratch / "burner";
  fs::copy(source_dir() / "examples/cpu-burner", app, fs::copy_options::recursive);
  std::ofstream(app / "shoal.toml", std::ios::trunc)
      << "[formation]\nweb = 2\n[limits]\nmemory_mb = 64\ncpu_millis = 200\n";
  auto dep = c.cli(n0, {"deploy", app.string(), "--app", "burn"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  REQUIRE(wait_for(60s, [&] { return running(c.ps(n0, "burn")).size() == 2; }));
  for (const auto& i : running(c.ps(n0, "burn"))) {
    auto told = get_port(i.value("port", 0), "/burn");
    REQUIRE(told.ok());
    CHECK(told->status == 200);
  }

  // 1. `shoal top --format json` through the third node: every node alive with its capacity
  // and memory in use; both instances with memory, and near their CPU limit once sampled.
  json top;
  const bool burning = wait_for(60s, [&] {
    auto r = c.cli(n2, {"top", "--format", "json"}, 30s);
    if (r.exit_code != 0) return false;
    top = json::parse(r.out, nullptr, false);
    const auto list = instances_of(top, "burn");
    if (list.size() != 2) return false;
    for (const auto& i : list) {
      const json u = i.value("usage", json::object());
      if (i.value("state", "") != "running" || u.value("cpu_percent", 0.0) < 70) return false;
    }
    return true;
  });
  INFO(top.dump(2));
  REQUIRE(burning);
  REQUIRE(top["nodes"].size() == 3);
  for (const auto& n : top["nodes"]) {
    CHECK(n.value("status", "") == "alive");
    CHECK(n.value("shoal", false));
    CHECK(n["capacity"].value("cores", 0) > 0);
    CHECK(n["usage"].value("memory_used_bytes", int64_t{0}) > 0);
    CHECK(n["usage"].value("agent_rss_bytes", int64_t{0}) > 0);
  }
  std::set<std::string> nodes_with_instances;
  for (const auto& i : instances_of(top, "burn")) {
    const json u = i["usage"];
    CHECK(u.value("memory_bytes", int64_t{0}) > 0);
    CHECK(u.value("cpu_millis", 0.0) <= 300);  // the limit holds (one sample's jitter aside)
    CHECK(i.value("release", 0) == 1);
    nodes_with_instances.insert(i.value("node", ""));
  }
  CHECK(top["unreachable"].empty());
  const json app_totals = top["apps"][0];
  CHECK(app_totals.value("app", "") == "burn");
  CHECK(app_totals.value("running", 0) == 2);
  CHECK(app_totals.value("cpu_millis", 0.0) > 200);

  // 2. GET /v1/nodes: one catalog leader, one leader of the app, instances where they run.
  const json nodes = get(n0, "/v1/nodes");
  int catalog_leaders = 0, app_leaders = 0, instances_seen = 0;
  for (const auto& n : nodes.value("nodes", json::array())) {
    const json roles = n.value("roles", json::object());
    if (roles.value("catalog", json()) == "leader") ++catalog_leaders;
    for (const auto& a : roles.value("app_leader", json::array())) app_leaders += a == "burn";
    instances_seen += n["instances"].value("total", 0);
  }
  INFO(nodes.dump(2));
  CHECK(catalog_leaders == 1);
  CHECK(app_leaders == 1);
  CHECK(instances_seen == 2);
  CHECK_FALSE(nodes["nodes"][0].contains("history"));  // only when asked for

  // With a window, each node's own history: the dashboard's charts start from it.
  const json nodes_history = get(n0, "/v1/nodes?window=1m");
  REQUIRE(nodes_history.value("nodes", json::array()).size() == 3);
  for (const auto& n : nodes_history["nodes"]) {
    INFO(n.dump());
    const json h = n.value("history", json::array());
    REQUIRE(h.size() >= 2);
    CHECK(h.back().value("memory_bytes", int64_t{0}) > 0);
    CHECK(h.back().value("cpu_millis", -1.0) >= 0);
    CHECK(h.front().value("ms", int64_t{0}) < h.back().value("ms", int64_t{0}));
  }
  auto bad_nodes_window = n0.client(5s).send("GET", "/v1/nodes?window=forever");
  REQUIRE(bad_nodes_window.ok());
  CHECK(bad_nodes_window->status == 400);

  // 3. One app with its history over a window; a bad window or app is refused.
  const json usage = get(n0, "/v1/metrics/apps/burn?window=1m");
  INFO(usage.dump(2));
  CHECK(usage["totals"].value("running", 0) == 2);
  for (const auto& i : usage.value("instances", json::array())) {
    CHECK(i.value("history", json::array()).size() >= 2);
  }
  auto bad_window = n0.client(5s).send("GET", "/v1/metrics/apps/burn?window=2h");
  REQUIRE(bad_window.ok());
  CHECK(bad_window->status == 400);
  CHECK_THAT(bad_window->body, Catch::Contains("at most 1h"));
  auto unknown = n0.client(5s).send("GET", "/v1/metrics/apps/nosuchapp");
  REQUIRE(unknown.ok());
  CHECK(unknown->status == 404);

  // 4. The tables people read: not on a terminal, `shoal top` prints once.
  auto table = c.cli(n2, {"top"}, 30s);
  INFO(table.out << table.err);
  CHECK(table.exit_code == 0);
  for (const char* want : {"n0", "n1", "n2", "burn", "catalog leader", "Limit"}) {
    CHECK_THAT(table.out, Catch::Contains(want));
  }
  auto listed = c.cli(n2, {"nodes"}, 30s);
  CHECK(listed.exit_code == 0);
  CHECK_THAT(listed.out, Catch::Contains("n0") && Catch::Contains("n1") && Catch::Contains("alive"));
  CHECK(c.cli(n2, {"top", "--interval", "1ms"}).exit_code == 2);
}

}  // namespace shoal::test
