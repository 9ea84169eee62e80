// node/apps/scheduler.h
//
// The app leader's decisions, as a pure function of the app's state and the nodes it can
// see: which instances to place where, which to unplace (tell the supervisor to stop), and
// which to forget. The leader turns the Plan into AppState commands (place, unplace,
// remove_instance), applies them through Raft, and calls plan() again; a plan is
// level-triggered, so calling it twice on the same state gives the same plan.
//
// Rules, per process type of the formation (and any type that still has instances):
//  - `count` desired instances of the current release (0 when the app is stopped; instances
//    of a release that counts as the current one, current_equivalents() in auto_rollback.h,
//    are its own), on nodes
//    that are alive and not draining.
//  - An instance on a node that is not alive (failed, left, or not in `nodes`) is unplaced
//    and replaced at once.
//  - An instance of an older release, or on a draining node, is replaced rolling, by the
//    current release's [deploy] policy (manifest.h): at most `max_surge` instances of a type
//    above `count` at a time, and a running one is unplaced only while the instances of the
//    type that are up stay at `count - max_unavailable` or more, i.e. (with the default
//    max_unavailable 0) once its replacement is up: `running` and, when its type has a
//    health check, `healthy` (is_up(), app_state.h). One that is not up is unplaced at
//    once (it serves nobody).
//  - Scaling down unplaces instances that are not up first, then the most crowded nodes'.
//  - Unplaced instances are removed once their supervisor reports `stopped` or their node is
//    no longer a member. A failed node is still one: its record stays, so when the node
//    comes back (a partition heals) the leader still tells it to stop what moved away.
//  - Spread: each new instance goes to the usable node with the fewest instances of this app,
//    then of this type, then the smallest name. Usable: alive, not draining, and advertising
//    at least the type's memory_mb free (minus what this plan already put there; -1 = unknown,
//    always fits). When none is usable the plan says why in `warnings`.
//  - An instance marked `replace` (rebalancing, a rolling restart) is replaced rolling like
//    one of an older release.
//  - Rebalancing (rebalance.h): once the app is settled and nothing else is to be done, at
//    most one move: the instance is marked `replace` and its replacement placed on the node
//    that evens the spread, in the same plan.
//  - Deterministic: no clock or randomness; output lists are in a fixed order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/apps/app_state.h"

namespace shoal::node::apps {

// What the leader knows of a node (gossip + the catalog's drain marks). A leaving node is
// passed as draining (its instances move rolling) or, once gone, not alive.
struct NodeInfo {
  std::string name;
  bool alive = true;
  bool draining = false;
  int64_t memory_free_mb = -1;  // -1: unknown
  bool member = true;           // in the cluster: failed counts, left (or reaped) does not
};

struct Placement {
  std::string type;
  std::string node;
  uint64_t release = 0;
  bool operator==(const Placement&) const = default;
};

// Rebalancing: mark `id` to be replaced, and place its replacement on `to`.
struct Move {
  std::string id;
  std::string type;
  std::string from;
  std::string to;
  uint64_t release = 0;
  std::string reason;
  bool operator==(const Move&) const = default;
};

struct Plan {
  std::vector<Placement> place;
  std::vector<std::string> unplace;  // instance ids
  std::vector<std::string> remove;   // instance ids
  std::vector<Move> moves;           // at most one
  std::vector<std::string> warnings;
  bool empty() const {
    return place.empty() && unplace.empty() && remove.empty() && moves.empty();
  }
};

// Overrides of the current release's [deploy] max_surge / max_unavailable (unset: the
// manifest's; 1 and 0 before any release). When both come out 0, max_surge counts as 1: a
// rollout must make progress.
struct PlanOptions {
  std::optional<int> max_surge;
  std::optional<int> max_unavailable;
};

// `now_ms` is the leader's wall clock; no rule reads it yet (grace periods of issue 8 will).
Plan plan(const AppState& app, const std::vector<NodeInfo>& nodes, int64_t now_ms,
          const PlanOptions& options = {});

}  // namespace shoal::node::apps
