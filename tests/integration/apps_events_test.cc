// Issue 8 (points 5 and 6) end to end: the lifecycle events of a deploy, and a node-failure
// episode with its three times, as `shoal events` shows them and /metrics counts them, on a
// cluster of three real agents on loopback.
#include <catch2/catch.hpp>

#include <signal.h>

#include "tests/integration/apps_cluster.h"

namespace shoal::test {
namespace {

// `shoal events [APP] --format json`'s events (empty on failure).
json events(AppsCluster& c, AgentProcess& via, const std::string& app) {
  std::vector<std::string> args = {"events"};
  if (!app.empty()) args.push_back(app);
  args.insert(args.end(), {"--format", "json", "-n", "1000"});
  auto r = c.cli(via, args);
  if (r.exit_code != 0) return json::array();
  json j = json::parse(r.out, nullptr, false);
  return j.is_object() ? j.value("events", json::array()) : json::array();
}

const json* find(const json& list, const std::string& kind, const std::string& node = "") {
  for (const auto& e : list) {
    if (e.value("kind", "") == kind && (node.empty() || e.value("node", "") == node)) return &e;
  }
  return nullptr;
}

// The value of an unlabelled metric in Prometheus text, or -1.
double metric(const std::string& text, const std::string& name) {
  size_t at = 0;
  while ((at = text.find(name + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + name.size() + 1));
    at += name.size();
  }
  return -1;
}

TEST_CASE("apps: events of a deploy, and a node failure's episode with its timings",
          "[integration][apps][events]") {
  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];
  auto& agents = c.agents;
  auto by_name = [&](const std::string& name) { return c.by_name(name); };

  // A deploy, scaled to one instance per node.
  auto dep = c.cli(n0, {"deploy", static_example().string(), "--app", "ev"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  REQUIRE(c.cli(n0, {"scale", "ev", "web=3"}).exit_code == 0);
  auto up = [&] { return running(c.ps(n0, "ev")); };
  REQUIRE(wait_for(60s, [&] { return up().size() == 3; }));

  // Its events, through any node, with times, nodes and instances.
  json ev;
  REQUIRE(wait_for(20s, [&] {
    ev = events(c, *agents[2], "ev");
    return find(ev, "deploy_finished") && find(ev, "scaled") && find(ev, "started");
  }));
  INFO(ev.dump(1));
  CHECK(find(ev, "deploy_started") != nullptr);
  CHECK(find(ev, "leader_changed") != nullptr);
  const json* placed = find(ev, "placed");
  REQUIRE(placed != nullptr);
  CHECK(placed->value("time_ms", int64_t{0}) > 0);
  CHECK_FALSE(placed->value("node", "").empty());
  CHECK_FALSE(placed->value("instance", "").empty());
  // The text table too.
  auto table = c.cli(n0, {"events", "ev"});
  CHECK(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("TIME") && Catch::Contains("placed"));

  // kill -9 a node that runs an instance and does not lead the app (nor is n0, which we ask).
  auto info = n0.client(5s).call("GET", "/v1/apps/ev");
  REQUIRE(info.ok());
  const std::string leader = info->value("leader", "");
  AgentProcess* victim = nullptr;
  int orphan = 0;  // the victim's instance keeps running without its agent: ours to stop
  for (const auto& i : up()) {
    const std::string node = i.value("node", "");
    if (node != leader && node != n0.name()) {
      victim = by_name(node);
      orphan = i.value("pid", 0);
    }
  }
  REQUIRE(victim != nullptr);
  victim->kill9();

  // The episode: failure detected (T0), replacements placed (T1), replacements up (T2).
  const json* recovered = nullptr;
  bool done = wait_for(90s, [&] {
    ev = events(c, n0, "ev");
    recovered = find(ev, "failover_recovered", victim->name());
    return recovered != nullptr;
  });
  if (orphan > 0) ::kill(orphan, SIGKILL);
  INFO(ev.dump(1));
  REQUIRE(done);
  const json* failed = find(ev, "node_failed", victim->name());
  const json* replaced = find(ev, "replacements_placed", victim->name());
  REQUIRE(failed != nullptr);
  REQUIRE(replaced != nullptr);
  CHECK(find(ev, "moved") != nullptr);
  const json d = recovered->value("data", json::object());
  const int64_t t0 = d.value("detected_ms", int64_t{0});
  const int64_t t1 = d.value("placed_ms", int64_t{0});
  const int64_t t2 = d.value("up_ms", int64_t{0});
  CHECK(t0 > 0);
  CHECK(t0 <= t1);
  CHECK(t1 <= t2);
  CHECK(d.value("recovered_after_ms", int64_t{-1}) == t2 - t0);
  CHECK(d.value("placed_after_ms", int64_t{-1}) == t1 - t0);
  CHECK(failed->value("time_ms", int64_t{0}) == t0);
  REQUIRE(wait_for(30s, [&] { return up().size() == 3; }));

  // /metrics of the leader counts it.
  AgentProcess* lead = by_name(leader);
  REQUIRE(lead != nullptr);
  std::string text;
  CHECK(wait_for(20s, [&] {
    auto r = lead->client(5s).send("GET", "/metrics");
    text = r.ok() ? r->body : "";
    return metric(text, "shoal_failover_episodes_total") >= 1;
  }));
  INFO(text);
  CHECK_THAT(text, Catch::Contains("shoal_failover_recovery_seconds_count 1"));
  CHECK_THAT(text, Catch::Contains("shoal_events_total{kind=\"placed\"}"));

  // The cluster's log: every node joined, the victim failed.
  json cat;
  CHECK(wait_for(30s, [&] {
    cat = events(c, n0, "");
    return find(cat, "node_failed", victim->name()) != nullptr;
  }));
  INFO(cat.dump(1));
  for (auto& a : agents) CHECK(find(cat, "node_joined", a->name()) != nullptr);
  CHECK(find(cat, "app_created") != nullptr);
}

}  // namespace
}  // namespace shoal::test
