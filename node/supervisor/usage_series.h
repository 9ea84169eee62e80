// node/supervisor/usage_series.h
//
// UsageSeries: the bounded resource-use history of one instance, or of the node itself
// (docs/reporting.md, "History"): the last kRecent samples as taken (5 minutes at the
// default 1 s interval), and the last kMinutes whole minutes downsampled to one point each
// (CPU: the mean of the minute's samples; memory: their peak, which is what meets a limit).
// Memory stays bounded whatever the uptime: about 360 points per series.
//
// Contract: pure (the caller samples, with its own clock); not thread-safe. Points must come
// in time order: one not newer than the last is ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace shoal::node::supervisor {

// What one sample says, or one minute of samples; -1: unknown.
struct UsagePoint {
  int64_t ms = 0;             // wall clock of the sample / start of the minute
  double cpu_millis = -1;     // CPU used, 1000 = one core busy throughout
  double cpu_percent = -1;    // of the limit (an instance) or of every core (the node)
  int64_t memory_bytes = -1;  // an instance's cgroup charge / the node's memory in use
  int64_t rss_bytes = -1;     // an instance's anonymous resident memory / the agent's RSS
  bool operator==(const UsagePoint&) const = default;
};

class UsageSeries {
 public:
  static constexpr size_t kRecent = 300;
  static constexpr int64_t kMinuteMs = 60 * 1000;
  static constexpr size_t kMinutes = 60;

  void add(const UsagePoint& p);
  // The samples taken at or after `since_ms`, oldest first.
  std::vector<UsagePoint> recent(int64_t since_ms = 0) const;
  // The minutes that began at or after `since_ms`, oldest first; the minute in progress,
  // downsampled so far, comes last.
  std::vector<UsagePoint> minutes(int64_t since_ms = 0) const;
  std::optional<UsagePoint> latest() const;
  bool empty() const { return recent_.empty(); }

 private:
  // The minute in progress: sums for the means, peaks for memory.
  struct Open {
    int64_t minute = -1;  // its start, ms
    double cpu_millis = 0, cpu_percent = 0;
    int cpu_samples = 0, percent_samples = 0;
    int64_t memory_bytes = -1, rss_bytes = -1;
    UsagePoint point() const;
  };
  std::deque<UsagePoint> recent_;
  std::deque<UsagePoint> minutes_;
  Open open_;
};

}  // namespace shoal::node::supervisor
