// node/apps/rebalance.h
//
// Rebalancing: the scheduler's last rule (scheduler.h). When a node joins or comes back,
// the app's instances are moved towards it one at a time, so that no node ends up holding
// all the replicas of a type while another holds none.
//
// Contract:
//  - pick_move() proposes at most one move, and only when the app is settled: every desired
//    instance runs the current release on a usable node, is up (is_up()), and none is
//    already being moved. A move is health-gated by the ordinary rollout rule: its
//    replacement is placed first and the moved instance is unplaced once that is up.
//  - Anti-affinity first: for a process type whose count differs by 2 or more between the
//    fullest and the emptiest usable node, one instance moves from the fullest to the
//    emptiest. Then load: when the app's instances (all types) differ by 2 or more between
//    two usable nodes, one instance of a type the fuller node has more of moves.
//  - Each move lowers (per-type spread, then app spread) in sum of squares, so moves stop.
//  - Usable target: alive, a member, not draining, and with the type's memory free (or
//    unknown). Pure and deterministic (ties go by node name, then newest instance).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "node/apps/app_state.h"
#include "node/apps/scheduler.h"

namespace shoal::node::apps {

std::optional<Move> pick_move(const AppState& app, const std::vector<NodeInfo>& nodes);

}  // namespace shoal::node::apps
