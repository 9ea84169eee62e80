#include "node/supervisor/usage_series.h"

#include <algorithm>

namespace shoal::node::supervisor {

UsagePoint UsageSeries::Open::point() const {
  UsagePoint p;
  p.ms = minute;
  if (cpu_samples > 0) p.cpu_millis = cpu_millis / cpu_samples;
  if (percent_samples > 0) p.cpu_percent = cpu_percent / percent_samples;
  p.memory_bytes = memory_bytes;
  p.rss_bytes = rss_bytes;
  return p;
}

void UsageSeries::add(const UsagePoint& p) {
  if (!recent_.empty() && p.ms <= recent_.back().ms) return;
  recent_.push_back(p);
  if (recent_.size() > kRecent) recent_.pop_front();

  const int64_t minute = p.ms - p.ms % kMinuteMs;
  if (minute != open_.minute) {
    if (open_.minute >= 0) {
      minutes_.push_back(open_.point());
      if (minutes_.size() > kMinutes) minutes_.pop_front();
    }
    open_ = Open{};
    open_.minute = minute;
  }
  if (p.cpu_millis >= 0) open_.cpu_millis += p.cpu_millis, ++open_.cpu_samples;
  if (p.cpu_percent >= 0) open_.cpu_percent += p.cpu_percent, ++open_.percent_samples;
  open_.memory_bytes = std::max(open_.memory_bytes, p.memory_bytes);
  open_.rss_bytes = std::max(open_.rss_bytes, p.rss_bytes);
}

std::vector<UsagePoint> UsageSeries::recent(int64_t since_ms) const {
  std::vector<UsagePoint> out;
  for (const auto& p : recent_) {
    if (p.ms >= since_ms) out.push_back(p);
  }
  return out;
}

std::vector<UsagePoint> UsageSeries::minutes(int64_t since_ms) const {
  std::vector<UsagePoint> out;
  for (const auto& p : minutes_) {
    if (p.ms >= since_ms) out.push_back(p);
  }
  if (open_.minute >= since_ms && open_.minute >= 0) out.push_back(open_.point());
  return out;
}

std::optional<UsagePoint> UsageSeries::latest() const {
  if (recent_.empty()) return std::nullopt;
  return recent_.back();
}

}  // namespace shoal::node::supervisor
