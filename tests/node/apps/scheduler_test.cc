// Tests of node/apps/scheduler: the app leader's plans in the scenarios of issue 7
// (spread, scale, dead and draining nodes, rolling releases, memory, stop).
#include "node/apps/scheduler.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "node/apps/command_result.h"
#include "tests/node/apps/deploy_test_util.h"
#include "tests/node/apps/plan_test_util.h"

using namespace shoal;
using namespace shoal::node::apps;
using namespace shoal::node::apps::test;

namespace {

std::vector<NodeInfo> three_nodes() { return {{"n1"}, {"n2"}, {"n3"}}; }

}  // namespace

TEST_CASE("scheduler: no release, nothing to do", "[apps][scheduler]") {
  AppState app;
  CHECK(plan(app, three_nodes(), 0).empty());
}

TEST_CASE("scheduler: spreads over 3 nodes", "[apps][scheduler]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 3\n");
  Plan p = plan(app, three_nodes(), 0);
  REQUIRE(p.place.size() == 3);
  CHECK(p.place[0] == Placement{"web", "n1", 1});
  CHECK(p.place[1] == Placement{"web", "n2", 1});
  CHECK(p.place[2] == Placement{"web", "n3", 1});
  CHECK(p.unplace.empty());
  CHECK(p.warnings.empty());
  // Level-triggered: once applied, the same state plans nothing more.
  apply_plan(app, p);
  CHECK(plan(app, three_nodes(), 0).empty());
}

TEST_CASE("scheduler: scale 1 -> 4 uses all three nodes, types spread apart", "[apps][scheduler]") {
  AppState app;
  deploy(app, "web: ./w\nworker: ./k\n");
  settle(app, three_nodes());
  CHECK(per_node(app) == std::map<std::string, int>{{"n1", 1}});
  REQUIRE(run(app, AppState::scale({{"web", 4}, {"worker", 2}})).ok());
  Plan p = plan(app, three_nodes(), 0);
  CHECK(p.place.size() == 5);
  apply_plan(app, p);
  auto counts = per_node(app);
  CHECK(counts.size() == 3);
  for (const auto& [node, n] : counts) CHECK(n == 2);  // 6 instances over 3 nodes
  CHECK(desired_count(app, "web") == 4);
  CHECK(desired_count(app, "worker") == 2);
}

TEST_CASE("scheduler: scale down unplaces the ones not running first", "[apps][scheduler]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 3\n");
  settle(app, three_nodes());
  REQUIRE(run(app, AppState::report("n2", {{"web.2", "crashed", 0, 0, 5, 0, 1, "exit 1"}})).ok());
  REQUIRE(run(app, AppState::scale({{"web", 2}})).ok());
  Plan p = plan(app, three_nodes(), 0);
  CHECK(p.unplace == std::vector<std::string>{"web.2"});
  CHECK(p.place.empty());
}

TEST_CASE("scheduler: a dead node's instances are replaced at once, and forgotten once it left",
          "[apps][scheduler]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 3\n");
  settle(app, three_nodes());
  auto nodes = three_nodes();
  nodes[1].alive = false;  // n2 failed
  Plan p = plan(app, nodes, 0);
  CHECK(p.unplace == std::vector<std::string>{"web.2"});
  REQUIRE(p.place.size() == 1);
  CHECK(p.place[0].node == "n1");  // n1 and n3 tie; by name
  CHECK(p.remove.empty());
  apply_plan(app, p);
  // Failed is still a member: the record stays, so n2 is told to stop it if it comes back.
  CHECK(plan(app, nodes, 0).empty());
  REQUIRE(app.instance("web.2") != nullptr);
  CHECK_FALSE(app.instance("web.2")->desired);
  nodes[1].member = false;  // n2 left (or was reaped)
  Plan next = plan(app, nodes, 0);
  CHECK(next.remove == std::vector<std::string>{"web.2"});
  CHECK(next.place.empty());
  apply_plan(app, next);
  CHECK(desired_count(app, "web") == 3);
  // A node missing from the list counts as dead too.
  Plan gone = plan(app, {{"n1"}, {"n2"}}, 0);
  CHECK(gone.unplace.size() == 1);
  CHECK(gone.place.size() == 1);
}

TEST_CASE("scheduler: a draining node is drained rolling", "[apps][scheduler]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 3\n");
  settle(app, three_nodes());
  auto nodes = three_nodes();
  nodes[2].draining = true;  // n3
  Plan p = plan(app, nodes, 0);
  REQUIRE(p.place.size() == 1);
  CHECK(p.place[0].node != "n3");
  CHECK(p.unplace.empty());  // the old one serves until its replacement runs
  apply_plan(app, p);
  CHECK(plan(app, nodes, 0).empty());  // waiting: the replacement is not running yet
  report_all(app, nodes);
  Plan next = plan(app, nodes, 0);
  CHECK(next.unplace == std::vector<std::string>{"web.3"});
  CHECK(next.place.empty());
  settle(app, nodes);
  CHECK(per_node(app).count("n3") == 0);
  CHECK(desired_count(app, "web") == 3);
  CHECK(app.instance("web.3") == nullptr);  // stopped, then removed
}

TEST_CASE("scheduler: a new release rolls with surge 1 and keeps old until new runs",
          "[apps][scheduler]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 3\n");
  const auto nodes = three_nodes();
  settle(app, nodes);
  deploy(app, "web: ./w2\n", "", 'b');
  REQUIRE(app.current_version() == 2);

  Plan first = plan(app, nodes, 0);
  CHECK(first.place.size() == 1);
  CHECK(first.unplace.empty());
  apply_plan(app, first);
  CHECK(plan(app, nodes, 0).empty());  // surge used up, new one not running yet

  // Step by step: at every point at least 3 running and at most 4 desired instances.
  for (int round = 0; round < 20; ++round) {
    report_all(app, nodes);
    int running = 0;
    for (const auto& [id, i] : app.instances()) running += i.desired && i.state == "running";
    CHECK(running >= 3);
    CHECK(desired_count(app, "web") <= 4);
    Plan p = plan(app, nodes, 0);
    if (p.empty()) break;
    for (const auto& id : p.unplace) CHECK(app.instance(id)->release == 1);
    apply_plan(app, p);
  }
  CHECK(per_node(app, 2).size() == 3);
  CHECK(per_node(app, 1).empty());
  CHECK(desired_count(app, "web") == 3);
}

TEST_CASE("scheduler: a release whose instances never run leaves the old ones serving",
          "[apps][scheduler]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 2\n");
  const auto nodes = three_nodes();
  settle(app, nodes);
  deploy(app, "web: ./broken\n", "", 'b');
  Plan p = plan(app, nodes, 0);
  apply_plan(app, p);
  const std::string fresh = "web.3";
  REQUIRE(app.instance(fresh) != nullptr);
  REQUIRE(run(app, AppState::report(app.instance(fresh)->node,
                                    {{fresh, "crashed", 0, 0, 5, 0, 1, "exit 2"}}))
              .ok());
  Plan stuck = plan(app, nodes, 0);
  CHECK(stuck.unplace.empty());
  CHECK(stuck.place.empty());
  CHECK(per_node(app, 1).size() == 2);
}

TEST_CASE("scheduler: nodes without the memory are skipped, and the plan says why",
          "[apps][scheduler]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 3\n[limits]\nmemory_mb = 512\n");
  std::vector<NodeInfo> nodes = {
      {"n1", true, false, 100}, {"n2", true, false, -1}, {"n3", true, false, 1000}};
  Plan p = plan(app, nodes, 0);
  REQUIRE(p.place.size() == 3);
  CHECK(p.place[0].node == "n2");
  CHECK(p.place[1].node == "n3");
  CHECK(p.place[2].node == "n2");  // n3 has 488 MB left after the first
  CHECK(p.warnings.empty());

  std::vector<NodeInfo> full = {{"n1", true, false, 100}, {"n2", false}, {"n3", true, true}};
  Plan none = plan(app, full, 0);
  CHECK(none.place.empty());
  REQUIRE(none.warnings.size() == 1);
  CHECK(
      none.warnings[0] ==
      "cannot place a web instance (512 MB): n1 has 100 MB free; n2 is not alive; n3 is draining");
  CHECK(plan(app, {}, 0).warnings.at(0) == "cannot place a web instance (512 MB): no nodes known");
}

TEST_CASE("scheduler: a stopped app plans to unplace everything", "[apps][scheduler]") {
  AppState app;
  deploy(app, "web: ./w\nworker: ./k\n", "[formation]\nweb = 2\nworker = 1\n");
  const auto nodes = three_nodes();
  settle(app, nodes);
  REQUIRE(app.instances().size() == 3);
  REQUIRE(run(app, AppState::set_stopped(true)).ok());
  Plan p = plan(app, nodes, 0);
  CHECK(p.unplace.size() == 3);
  CHECK(p.place.empty());
  settle(app, nodes);
  CHECK(app.instances().empty());
  REQUIRE(run(app, AppState::set_stopped(false)).ok());
  CHECK(plan(app, nodes, 0).place.size() == 3);
}

TEST_CASE("scheduler: the same state and nodes give the same plan", "[apps][scheduler]") {
  AppState app;
  deploy(app, "web: ./w\nworker: ./k\n", "[formation]\nweb = 5\nworker = 2\n");
  std::vector<NodeInfo> nodes = {{"c"}, {"a"}, {"b", true, true}, {"d", false}};
  Plan a = plan(app, nodes, 0);
  std::reverse(nodes.begin(), nodes.end());
  Plan b = plan(app, nodes, 123);
  CHECK(a.place == b.place);
  CHECK(a.unplace == b.unplace);
  for (const auto& pl : a.place) CHECK((pl.node == "a" || pl.node == "c"));
}

TEST_CASE("scheduler: a checked new instance counts as up only once healthy",
          "[apps][scheduler][health]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 1\n");
  const std::vector<NodeInfo> nodes = {{"n1"}};
  settle(app, nodes);
  deploy(app, "web: ./w2\n", "", 'b');
  apply_plan(app, plan(app, nodes, 0));
  const std::string fresh = "web.2";
  REQUIRE(app.instance(fresh) != nullptr);
  InstanceReport line{fresh, "running", 7, 20001, 0, 0, 1, ""};
  line.health = "starting";
  REQUIRE(run(app, AppState::report("n1", {line})).ok());
  CHECK(plan(app, nodes, 0).unplace.empty());  // running, no verdict yet: the old one stays
  line.health = "unhealthy";
  REQUIRE(run(app, AppState::report("n1", {line})).ok());
  CHECK(plan(app, nodes, 0).unplace.empty());
  line.health = "healthy";
  REQUIRE(run(app, AppState::report("n1", {line})).ok());
  Plan p = plan(app, nodes, 0);
  REQUIRE(p.unplace.size() == 1);
  CHECK(app.instance(p.unplace[0])->release == 1);
  CHECK(app.instance(fresh)->health == "healthy");
}

TEST_CASE("scheduler: a report without health (an older node) counts as up when running",
          "[apps][scheduler][health]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 1\n");
  const std::vector<NodeInfo> nodes = {{"n1"}};
  settle(app, nodes);
  deploy(app, "web: ./w2\n", "", 'b');
  apply_plan(app, plan(app, nodes, 0));
  // The report command as an older node's leader encoded it: no "health" key.
  const nlohmann::json cmd = {{"op", "report"},
                              {"node", "n1"},
                              {"instances", {{{"id", "web.2"}, {"state", "running"}, {"pid", 7},
                                              {"port", 1}, {"restarts", 0}, {"generation", 0},
                                              {"since_ms", 1}, {"message", ""}}}}};
  REQUIRE(run(app, encode_command(cmd)).ok());
  CHECK(app.instance("web.2")->health == "none");
  CHECK(plan(app, nodes, 0).unplace.size() == 1);
}

namespace {

// Rolls `app` to its current release one plan at a time, checking at every step that at
// least `min_up` instances of `type` are up and at most `max_desired` desired. Returns the
// number of plans it took.
int roll(AppState& app, const std::vector<NodeInfo>& nodes, int min_up, int max_desired) {
  for (int round = 0; round < 50; ++round) {
    Plan p = plan(app, nodes, 0);
    if (p.empty()) return round;
    apply_plan(app, p);
    int up = 0;
    for (const auto& [id, i] : app.instances()) up += i.desired && is_up(i);
    CHECK(up >= min_up);
    CHECK(desired_count(app, "web") <= max_desired);
    report_all(app, nodes);
  }
  FAIL("the rollout did not settle in 50 rounds");
  return -1;
}

}  // namespace

TEST_CASE("scheduler: [deploy] max_surge places that many replacements at once",
          "[apps][scheduler][rolling]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 4\n[deploy]\nmax_surge = 2\n");
  const auto nodes = three_nodes();
  settle(app, nodes);
  deploy(app, "web: ./w2\n", "[deploy]\nmax_surge = 2\n", 'b');
  Plan first = plan(app, nodes, 0);
  CHECK(first.place.size() == 2);
  CHECK(first.unplace.empty());
  roll(app, nodes, 4, 6);
  CHECK(per_node(app, 1).empty());
  CHECK(desired_count(app, "web") == 4);
}

TEST_CASE("scheduler: [deploy] max_unavailable lets old ones go before the new are up",
          "[apps][scheduler][rolling]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 4\n");
  const auto nodes = three_nodes();
  settle(app, nodes);
  // No surge at all: one old instance goes, then its replacement comes.
  deploy(app, "web: ./w2\n", "[deploy]\nmax_surge = 0\nmax_unavailable = 1\n", 'b');
  Plan first = plan(app, nodes, 0);
  CHECK(first.unplace.size() == 1);
  CHECK(first.place.size() == 1);
  roll(app, nodes, 3, 4);
  CHECK(per_node(app, 1).empty());
  CHECK(desired_count(app, "web") == 4);

  // PlanOptions overrides the manifest (both 0 counts as surge 1).
  deploy(app, "web: ./w3\n", "[deploy]\nmax_surge = 0\nmax_unavailable = 1\n", 'c');
  Plan p = plan(app, nodes, 0, PlanOptions{0, 0});
  CHECK(p.place.size() == 1);
  CHECK(p.unplace.empty());
}

TEST_CASE("scheduler: a rollback to the code that still serves keeps its instances",
          "[apps][scheduler][rolling]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 2\n");
  const auto nodes = three_nodes();
  settle(app, nodes);
  deploy(app, "web: ./broken\n", "", 'b');
  apply_plan(app, plan(app, nodes, 0));  // one v2 instance, never up
  REQUIRE(run(app, AppState::rollback(1, 5, "automatic rollback of v2 to v1: x", 2)).ok());
  REQUIRE(app.current_version() == 3);
  Plan p = plan(app, nodes, 0);
  CHECK(p.place.empty());
  REQUIRE(p.unplace.size() == 1);  // the broken v2 one
  CHECK(app.instance(p.unplace[0])->release == 2);
  apply_plan(app, p);
  report_all(app, nodes);
  settle(app, nodes);
  CHECK(per_node(app, 1).size() == 2);  // still the v1 processes
  CHECK(per_node(app, 3).empty());

  // A plain redeploy of the same code is not a rollback: it replaces them.
  REQUIRE(run(app, AppState::add_release(digest('a'), "", app.release(1)->manifest, "deploy", 9))
              .ok());
  CHECK(plan(app, nodes, 0).place.size() == 1);
}

TEST_CASE("scheduler: a restart of the app replaces its instances rolling",
          "[apps][scheduler][rolling]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 3\n");
  const auto nodes = three_nodes();
  settle(app, nodes);
  std::set<std::string> before;
  for (const auto& [id, i] : app.instances()) before.insert(id);
  REQUIRE(run(app, AppState::restart("")).ok());
  Plan first = plan(app, nodes, 0);
  CHECK(first.place.size() == 1);  // surge 1, nothing unplaced before its replacement is up
  CHECK(first.unplace.empty());
  roll(app, nodes, 3, 4);
  CHECK(desired_count(app, "web") == 3);
  for (const auto& [id, i] : app.instances()) {
    CHECK_FALSE(before.contains(id));
    CHECK_FALSE(i.replace);
  }
  // One instance restarts in place: nothing to plan.
  REQUIRE(run(app, AppState::restart(app.instances().begin()->first)).ok());
  CHECK(plan(app, nodes, 0).empty());
}
