// Helpers for the tests of the scheduler: play the app leader and the supervisors over an
// AppState, one plan at a time.
#pragma once

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "node/apps/app_state.h"
#include "node/apps/scheduler.h"
#include "tests/node/apps/apps_test_util.h"

namespace shoal::node::apps::test {

// What the leader does with a plan: one command per decision, in plan order.
inline void apply_plan(AppState& app, const Plan& p) {
  for (const auto& pl : p.place)
    REQUIRE(run(app, AppState::place(pl.type, pl.node, pl.release, 1)).ok());
  for (const auto& id : p.unplace) REQUIRE(run(app, AppState::unplace(id)).ok());
  for (const auto& id : p.remove) REQUIRE(run(app, AppState::remove_instance(id)).ok());
  for (const auto& m : p.moves) {
    REQUIRE(run(app, AppState::replace_instance(m.id)).ok());
    REQUIRE(run(app, AppState::place(m.type, m.to, m.release, 1)).ok());
  }
}

// Every supervisor reports: desired instances run, unplaced ones have stopped.
inline void report_all(AppState& app, const std::vector<NodeInfo>& nodes) {
  for (const auto& n : nodes) {
    if (!n.alive) continue;
    std::vector<InstanceReport> lines;
    for (const auto& [id, i] : app.instances()) {
      if (i.node == n.name)
        lines.push_back({id, i.desired ? "running" : "stopped", 1, 1, 0, 0, 1, ""});
    }
    REQUIRE(run(app, AppState::report(n.name, lines)).ok());
  }
}

// Desired instances per node (of `release`, or of any when 0).
inline std::map<std::string, int> per_node(const AppState& app, uint64_t release = 0) {
  std::map<std::string, int> out;
  for (const auto& [id, i] : app.instances()) {
    if (i.desired && (release == 0 || i.release == release)) ++out[i.node];
  }
  return out;
}

inline int desired_count(const AppState& app, const std::string& type) {
  int n = 0;
  for (const auto& [id, i] : app.instances()) n += i.desired && i.type == type;
  return n;
}

// Plans, applies and reports until nothing changes (bounded); returns the rounds it took.
inline int settle(AppState& app, const std::vector<NodeInfo>& nodes) {
  for (int round = 0; round < 50; ++round) {
    Plan p = plan(app, nodes, 0);
    if (p.empty()) return round;
    apply_plan(app, p);
    report_all(app, nodes);
  }
  FAIL("the plan did not settle in 50 rounds");
  return 50;
}

}  // namespace shoal::node::apps::test
