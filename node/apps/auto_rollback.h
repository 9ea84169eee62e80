// node/apps/auto_rollback.h
//
// The app leader's decision to roll a failed release back on its own (docs/apps.md,
// "Rollouts"): a pure function of the app's state and the leader's wall clock, so that any
// leader, asked twice, decides the same.
//
// Rules: the current release has failed when, while an older release still has instances
// that are up (the rollout has not finished, so the old code still serves),
//  - one of its desired instances is found unhealthy, crash-loops (`crashed`) or cannot
//    start (`failed`); or
//  - `healthy_deadline` (its manifest's [deploy]) has passed since it was made and fewer of
//    its instances are up than the formation asks for.
// It is then rolled back to the newest release those up instances run: a new release equal
// to it, described "automatic rollback of vN to vM: REASON". Never decided for
//  - a release that is itself an automatic rollback (no loop when the old code fails too),
//  - a stopped app, or one with no older release serving (nothing better to go back to),
//  - an older release that is no longer kept.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "node/apps/app_state.h"

namespace shoal::node::apps {

inline constexpr std::string_view kAutoRollbackPrefix = "automatic rollback of v";

struct RollbackDecision {
  uint64_t from = 0;   // the failed (current) release
  uint64_t to = 0;     // the release that still serves
  std::string reason;  // "instance web.4 is unhealthy: health check failed 3 times: HTTP 500"
  std::string description() const;  // the new release's description
  bool operator==(const RollbackDecision&) const = default;
};

std::optional<RollbackDecision> auto_rollback(const AppState& app, int64_t now_ms);

// True for a release description that auto_rollback() wrote.
bool is_automatic_rollback(std::string_view description);

// The releases whose instances count as the current release's: the current one and, when
// it was made by a rollback (manual or automatic), every kept release with the same slug,
// config and manifest, so that rolling back to the code that still serves leaves its
// instances running instead of replacing them. A plain redeploy of the same code is not a
// rollback: its instances are replaced (a deploy restarts).
std::set<uint64_t> current_equivalents(const AppState& app);

}  // namespace shoal::node::apps
