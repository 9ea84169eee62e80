// node/apps/autoscaler.h
//
// The app leader's autoscaling decision for one process type (docs/apps.md, "Autoscaling"),
// and the recent resource use it decides on.
//
// decide_scale() is pure and deterministic: given the type's [autoscale.TYPE] rule, its
// current count, the CPU samples of its running instances and the time its count last
// changed, it returns the count to set and why, or nothing:
//  - a count outside [min, max] (a deploy changed the range) is clamped at once;
//  - otherwise nothing happens within `cooldown` of the last change (by anyone);
//  - an instance counts only with >= 2 samples in the last `window` that span at least half
//    of it (a new instance is not judged on its first second); none counting: nothing;
//  - the mean M of the counting instances' mean CPU (% of the limit) decides: above the
//    target, ceil(count * M / target) (at least count + 1); below kScaleDownFraction of
//    the target for the smaller count, ceil(count * M / (target * kScaleDownFraction)),
//    so a scale-down never lands where the next turn would scale up again (hysteresis);
//    the load-based count is at least 1 (min 0 only permits a manual scale to zero);
//  - with `target_rps` (web only), the app's requests per second through every router over
//    the window, R (nullopt: not known yet, no opinion), is a second signal: above
//    target_rps per instance, max(count + 1, ceil(R / target_rps)); below
//    kScaleDownFraction of it for the smaller count, ceil(R / (target_rps *
//    kScaleDownFraction)), at least 1. The signal asking for the most instances decides:
//    either one scales up, and a scale-down needs every signal with data to allow it;
//  - always clamped to [min, max]; a decision equal to the count is nothing.
//
// UsageHistory keeps the leader's recent samples per instance in memory (never in Raft:
// see docs/apps.md); not thread-safe (AppService guards it).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "node/apps/manifest.h"
#include "node/supervisor/assignment.h"

namespace shoal::node::apps {

inline constexpr double kScaleDownFraction = 0.8;

struct CpuSample {
  int64_t at_ms = 0;
  double cpu_percent = 0;  // of the instance's cpu_millis limit
};

struct InstanceSamples {
  std::string id;
  std::vector<CpuSample> samples;  // oldest first
};

struct AutoscaleInput {
  std::string type;
  AutoscaleRule rule;
  int count = 0;                           // the formation's count now
  std::vector<InstanceSamples> instances;  // the type's running, desired instances
  int64_t last_scale_ms = 0;               // when the count last changed
  int64_t now_ms = 0;
  // Requests/s to the type through every router over the rule's window (web only;
  // node/apps/request_rate.h); nullopt: not known.
  std::optional<double> rps;
};

struct ScaleDecision {
  int count = 0;
  std::string reason;  // "mean CPU 96% of the limit over 10s on 1 instance > target 50%"
};

std::optional<ScaleDecision> decide_scale(const AutoscaleInput& in);

class UsageHistory {
 public:
  static constexpr int64_t kKeepMs = 10 * 60 * 1000;
  static constexpr size_t kMaxSamples = 1200;

  // Records `u` for the instance if it is newer than its last sample; forgets samples
  // older than kKeepMs before it.
  void add(const std::string& id, const supervisor::ResourceUsage& u);
  // Forgets every instance not in `ids`.
  void retain(const std::set<std::string>& ids);
  // The instance's CPU samples (those with a rate), oldest first.
  std::vector<CpuSample> cpu(const std::string& id) const;
  // The newest sample of each instance.
  std::map<std::string, supervisor::ResourceUsage> latest() const;

 private:
  std::map<std::string, std::deque<supervisor::ResourceUsage>> by_id_;
};

// Adds "usage" (the newest sample, as the supervisor reported it) to each instance of a
// GET /v1/apps/{app}/ps answer that has one.
void add_usage(nlohmann::json& ps, const std::map<std::string, supervisor::ResourceUsage>& latest);

}  // namespace shoal::node::apps
