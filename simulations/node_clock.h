// simulations/node_clock.h
//
// NodeClock: one node's view of time under clock skew. Its monotonic clock runs at
// (1 + drift_ppm / 1e6) times the simulator's virtual clock and may jump forward; it never
// goes back. The simulator converts every `now` it hands a core with to_local() and every
// wakeup the core asks for with to_global() (rounded up, so a wake is never early).
// Value type.
#pragma once

#include <cstdint>

#include "base/time.h"

namespace shoal::sim {

class NodeClock {
 public:
  TimePoint to_local(TimePoint global) const {
    const __int128 dg = (global - global_base_).count();
    return local_base_ + Duration(static_cast<Duration::rep>(dg * (1'000'000 + drift_ppm_) / 1'000'000));
  }
  TimePoint to_global(TimePoint local) const {
    if (local == kTimeNever) return kTimeNever;
    const __int128 dl = (local - local_base_).count();
    const __int128 den = 1'000'000 + drift_ppm_;
    __int128 dg = dl * 1'000'000 / den;
    if (dg * den < dl * 1'000'000) ++dg;  // round up
    return global_base_ + Duration(static_cast<Duration::rep>(dg));
  }
  // From `now` on, run at the new rate, after jumping `jump` (>= 0) ahead.
  void set(TimePoint now, int64_t drift_ppm, Duration jump) {
    local_base_ = to_local(now) + (jump > Duration::zero() ? jump : Duration::zero());
    global_base_ = now;
    drift_ppm_ = drift_ppm;
  }
  int64_t drift_ppm() const { return drift_ppm_; }
  bool skewed() const { return drift_ppm_ != 0 || local_base_ != global_base_; }

 private:
  TimePoint local_base_{};
  TimePoint global_base_{};
  int64_t drift_ppm_ = 0;  // > -1e6
};

}  // namespace shoal::sim
