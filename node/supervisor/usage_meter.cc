#include "node/supervisor/usage_meter.h"

#include <algorithm>

namespace shoal::node::supervisor {

UsageMeter::UsageMeter(int64_t cpu_limit_millis, const CgroupUsage& start)
    : cpu_limit_millis_(cpu_limit_millis),
      oom_base_(std::max<int64_t>(0, start.oom_kills)),
      throttled_base_(std::max<int64_t>(0, start.nr_throttled)) {}

int64_t UsageMeter::oom_kills_since_start(const CgroupUsage& u) const {
  return u.oom_kills < 0 ? 0 : std::max<int64_t>(0, u.oom_kills - oom_base_);
}

const ResourceUsage& UsageMeter::sample(const CgroupUsage& u, TimePoint now, int64_t wall_ms) {
  ResourceUsage r;
  r.sampled_ms = wall_ms;
  r.memory_bytes = u.memory_bytes;
  r.rss_bytes = u.rss_bytes;
  r.oom_kills = oom_kills_since_start(u);
  r.nr_throttled = u.nr_throttled < 0 ? -1 : std::max<int64_t>(0, u.nr_throttled - throttled_base_);
  const int64_t window_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - prev_at_).count();
  if (prev_cpu_ns_ >= 0 && u.cpu_ns >= prev_cpu_ns_ && window_ns > 0) {
    const double cores = static_cast<double>(u.cpu_ns - prev_cpu_ns_) / static_cast<double>(window_ns);
    r.window_ms = window_ns / 1'000'000;
    r.cpu_millis = static_cast<int64_t>(cores * 1000 + 0.5);
    const double limit = cpu_limit_millis_ > 0 ? static_cast<double>(cpu_limit_millis_) : 1000.0;
    r.cpu_percent = cores * 1000 * 100 / limit;
  }
  prev_cpu_ns_ = u.cpu_ns;
  prev_at_ = now;
  last_ = r;
  return *last_;
}

}  // namespace shoal::node::supervisor
