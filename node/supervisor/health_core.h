// node/supervisor/health_core.h
//
// HealthTracker: the health-check rule for one instance, sans IO (docs/supervisor.md,
// "Health checks"). The supervisor's core owns one per instance; the shell runs the probes
// it asks for (health_prober.h) and feeds the results back.
//
// Rule:
//  - No check (the type has no [health]): `none`, which counts as healthy once running.
//  - A process start makes the state `starting` (no verdict yet), except that an instance
//    restarted for being unhealthy stays `unhealthy` until it passes again.
//  - The first probe is due min(interval, 1 s) after the start, each next one `interval`
//    after the previous result; never two at once (begin() .. result()).
//  - A pass resets the failure count; healthy_threshold passes in a row make it `healthy`.
//  - A failure resets the pass count and counts, unless it ends within start_period of the
//    start; unhealthy_threshold counted failures in a row make it `unhealthy` and the verdict
//    asks for a restart (no more probes for that run). A healthy instance stays healthy
//    through fewer failures than that.
//  - Results of an earlier run (begin()'s token) are ignored.
//  - Deterministic, no clock (time is passed in), not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/time.h"
#include "node/supervisor/assignment.h"

namespace shoal::node::supervisor {

inline constexpr std::string_view kHealthFailedPrefix = "health check failed ";

enum class Health : uint8_t { none, starting, healthy, unhealthy };
std::string_view health_name(Health h);

struct HealthVerdict {
  bool changed = false;  // the state changed
  bool restart = false;  // just became unhealthy: restart the instance
  std::string reason;    // with restart: "health check failed N times: <output>"
};

class HealthTracker {
 public:
  // A process of the instance started at `now`, checked by `spec` (none: no check).
  void on_start(const std::optional<HealthSpec>& spec, TimePoint now);
  // Forgets the verdict (an explicit restart, a new spec): the next start is `starting`.
  void forget();
  // The process ended: nothing is due until the next start; a result in flight is ignored.
  void on_stop();

  bool due(TimePoint now) const { return !probing_ && now >= next_; }
  // A probe is being sent; returns the token its result must carry.
  uint64_t begin();
  HealthVerdict result(uint64_t token, bool pass, std::string output, TimePoint now);

  TimePoint next_probe() const { return probing_ ? kTimeNever : next_; }
  bool probing() const { return probing_; }
  Health state() const { return state_; }
  const std::string& output() const { return output_; }
  int failures() const { return failures_; }
  const std::optional<HealthSpec>& spec() const { return spec_; }

 private:
  std::optional<HealthSpec> spec_;
  Health state_ = Health::none;
  TimePoint started_{};
  TimePoint next_ = kTimeNever;
  bool probing_ = false;
  uint64_t run_ = 0;  // bumps per start and stop
  int passes_ = 0;
  int failures_ = 0;
  std::string output_;
};

}  // namespace shoal::node::supervisor
