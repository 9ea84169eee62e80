// Tests of node/apps/rebalance through scheduler::plan(): a node that joins or comes back
// gets instances moved to it, one at a time, each move health-gated.
#include "node/apps/rebalance.h"

#include <catch2/catch.hpp>

#include "tests/node/apps/deploy_test_util.h"
#include "tests/node/apps/plan_test_util.h"

using namespace shoal;
using namespace shoal::node::apps;
using namespace shoal::node::apps::test;

namespace {

using Spread = std::map<std::string, int>;

// Desired instances of `type` per node.
Spread of_type(const AppState& app, const std::string& type) {
  Spread out;
  for (const auto& [id, i] : app.instances()) {
    if (i.desired && i.type == type) ++out[i.node];
  }
  return out;
}

}  // namespace

TEST_CASE("rebalance: a node that joins gets its share, one health-gated move at a time",
          "[apps][scheduler][rebalance]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 3\n");
  const std::vector<NodeInfo> two = {{"n1"}, {"n2"}};
  settle(app, two);
  REQUIRE(per_node(app) == Spread{{"n1", 2}, {"n2", 1}});
  CHECK(plan(app, two, 0).empty());  // balanced as far as two nodes go

  const std::vector<NodeInfo> three = {{"n1"}, {"n2"}, {"n3"}};
  Plan p = plan(app, three, 0);
  REQUIRE(p.moves.size() == 1);
  CHECK(p.place.empty());
  CHECK(p.unplace.empty());
  CHECK(p.moves[0].from == "n1");
  CHECK(p.moves[0].to == "n3");
  CHECK(p.moves[0].type == "web");
  CHECK(p.moves[0].id == "web.3");  // the newest on the fullest node
  CHECK(p.moves[0].reason == "n1 has 2 web instances, n3 has 0");
  apply_plan(app, p);
  REQUIRE(app.instance("web.3")->replace);

  // The replacement is not up yet: the moved instance keeps running, and nothing else moves.
  p = plan(app, three, 0);
  CHECK(p.empty());

  // Up: the moved one is unplaced, then removed once stopped.
  report_all(app, three);
  p = plan(app, three, 0);
  CHECK(p.unplace == std::vector<std::string>{"web.3"});
  CHECK(p.moves.empty());
  settle(app, three);
  CHECK(per_node(app) == Spread{{"n1", 1}, {"n2", 1}, {"n3", 1}});
  CHECK(app.instance("web.3") == nullptr);
}

TEST_CASE("rebalance: a node back from a failure gets instances back",
          "[apps][scheduler][rebalance]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 6\n");
  std::vector<NodeInfo> nodes = {{"n1"}, {"n2"}, {"n3"}};
  settle(app, nodes);
  REQUIRE(per_node(app) == Spread{{"n1", 2}, {"n2", 2}, {"n3", 2}});

  nodes[2].alive = false;  // failed, still a member
  settle(app, nodes);
  REQUIRE(of_type(app, "web") == Spread{{"n1", 3}, {"n2", 3}});

  nodes[2].alive = true;
  const int rounds = settle(app, nodes);
  CHECK(of_type(app, "web") == Spread{{"n1", 2}, {"n2", 2}, {"n3", 2}});
  CHECK(rounds >= 4);  // two moves, each placed, then unplaced once up, then removed
}

TEST_CASE("rebalance: anti-affinity per type first, then the app's spread",
          "[apps][scheduler][rebalance]") {
  AppState app;
  deploy(app, "web: ./w\nworker: ./k\n", "[formation]\nweb = 4\nworker = 2\n");
  const std::vector<NodeInfo> two = {{"n1"}, {"n2"}};
  settle(app, two);
  REQUIRE(of_type(app, "web") == Spread{{"n1", 2}, {"n2", 2}});
  REQUIRE(of_type(app, "worker") == Spread{{"n1", 1}, {"n2", 1}});

  const std::vector<NodeInfo> three = {{"n1"}, {"n2"}, {"n3"}};
  Plan p = plan(app, three, 0);
  REQUIRE(p.moves.size() == 1);
  CHECK(p.moves[0].type == "web");  // web is 2/2/0: the type rule fires first
  settle(app, three);
  // Per type no node is 2 ahead of another, and neither is it for the app as a whole.
  for (const std::string type : {"web", "worker"}) {
    auto s = of_type(app, type);
    int lo = 100, hi = 0;
    for (const auto& n : three) {
      lo = std::min(lo, s[n.name]);
      hi = std::max(hi, s[n.name]);
    }
    CHECK(hi - lo <= 1);
  }
  auto all = per_node(app);
  CHECK(all["n3"] == 2);
}

TEST_CASE("rebalance: no move to a node without room, a draining one, or while unsettled",
          "[apps][scheduler][rebalance]") {
  AppState app;
  deploy(app, "web: ./w\n", "[formation]\nweb = 4\n[limits]\nmemory_mb = 256\n");
  const std::vector<NodeInfo> two = {{"n1"}, {"n2"}};
  settle(app, two);

  std::vector<NodeInfo> three = {{"n1"}, {"n2"}, {"n3", true, false, 100}};
  CHECK(plan(app, three, 0).empty());  // n3 has 100 MB free: a 256 MB instance does not fit
  three[2] = {"n3", true, true, -1};
  CHECK(plan(app, three, 0).empty());  // draining

  three[2] = {"n3"};
  // One instance crashed: the app is not settled, so no move yet (the crash is the
  // supervisor's to handle).
  std::vector<InstanceReport> crashed = {{"web.1", "crashed", 0, 0, 1, 0, 1, "exit 1"}};
  REQUIRE(run(app, AppState::report("n1", crashed)).ok());
  CHECK(plan(app, three, 0).moves.empty());
  report_all(app, three);
  CHECK(plan(app, three, 0).moves.size() == 1);

  // A stopped app never moves anything.
  REQUIRE(run(app, AppState::set_stopped(true)).ok());
  CHECK(plan(app, three, 0).moves.empty());
}

TEST_CASE("rebalance: replace_instance marks a desired instance and survives a snapshot",
          "[apps][rebalance]") {
  AppState app;
  deploy(app, "web: ./w\n");
  settle(app, {{"n1"}});
  expect_error(run(app, AppState::replace_instance("web.9")), Status::Code::not_found, "web.9");
  REQUIRE(run(app, AppState::replace_instance("web.1")).ok());
  AppState copy;
  REQUIRE(copy.restore(app.snapshot()).ok());
  CHECK(copy.instance("web.1")->replace);
  REQUIRE(run(app, AppState::unplace("web.1")).ok());
  expect_error(run(app, AppState::replace_instance("web.1")), Status::Code::not_found,
               "being stopped");
}
