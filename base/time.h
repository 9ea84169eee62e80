// base/time.h
//
// Time as the sans-IO cores see it: a monotonic TimePoint that the caller passes in.
// Cores never read a clock; the agent converts std::chrono::steady_clock, the simulator
// advances a virtual clock. MonoClock has no now() on purpose.
#pragma once

#include <chrono>
#include <cstdint>

namespace shoal {

struct MonoClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<MonoClock, duration>;
  static constexpr bool is_steady = true;
};

using Duration = std::chrono::nanoseconds;
using TimePoint = MonoClock::time_point;

inline constexpr TimePoint kTimeZero{};
inline constexpr TimePoint kTimeNever = TimePoint::max();

// The real monotonic clock, for IO shells only.
inline TimePoint steady_now() {
  return TimePoint(std::chrono::duration_cast<Duration>(
      std::chrono::steady_clock::now().time_since_epoch()));
}

// Wall-clock milliseconds since the Unix epoch, for IO shells only: what users and logs
// call a time (event and sample timestamps, `since` filters).
inline int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline int64_t to_millis(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace shoal
