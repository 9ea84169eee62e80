// node/supervisor/usage_meter.h
//
// UsageMeter: turns an instance's cumulative cgroup counters (cgroup.h, CgroupUsage) into
// the ResourceUsage its supervisor reports (assignment.h): CPU as a rate over the window
// since the previous sample, memory as read, OOM kills and throttled periods counted from
// the start of the instance's current run.
//
// Contract: pure (the caller reads the cgroup and the clocks); one meter per run of an
// instance (the supervisor makes a new one at each start). A counter that is unknown (-1)
// or goes backwards (a recreated cgroup) yields -1 / restarts the baseline, never a
// negative rate. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>

#include "base/time.h"
#include "node/supervisor/assignment.h"
#include "node/supervisor/cgroup.h"

namespace shoal::node::supervisor {

class UsageMeter {
 public:
  // `cpu_limit_millis`: the instance's limit (0: none, rates are then % of one core).
  // `start`: the counters right after the run's cgroup was made (the baseline of
  // oom_kills and nr_throttled; a fresh cgroup reads 0).
  UsageMeter(int64_t cpu_limit_millis, const CgroupUsage& start);

  // A sample taken at `now` (steady clock, for the rate) / `wall_ms` (for the report).
  // The first sample has no window: its cpu fields stay -1.
  const ResourceUsage& sample(const CgroupUsage& u, TimePoint now, int64_t wall_ms);

  // The last sample, if any.
  const std::optional<ResourceUsage>& last() const { return last_; }
  // OOM kills since the run began, from `u` (0 when unknown).
  int64_t oom_kills_since_start(const CgroupUsage& u) const;

 private:
  int64_t cpu_limit_millis_;
  int64_t oom_base_;
  int64_t throttled_base_;
  int64_t prev_cpu_ns_ = -1;
  TimePoint prev_at_{};
  std::optional<ResourceUsage> last_;
};

}  // namespace shoal::node::supervisor
