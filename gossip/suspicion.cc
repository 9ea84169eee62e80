#include "gossip/suspicion.h"

#include <cmath>

namespace shoal::gossip {

Suspicion::Suspicion(std::string from, int k, Duration min, Duration max, TimePoint start)
    : k_(k), min_(min), max_(max), start_(start) {
  confirmed_.insert(std::move(from));
  deadline_ = start + (k < 1 ? min : max);
}

bool Suspicion::confirm(const std::string& from) {
  if (n_ >= k_) return false;
  if (!confirmed_.insert(from).second) return false;
  ++n_;
  const double frac = std::log(n_ + 1.0) / std::log(k_ + 1.0);
  const double max_s = to_seconds(max_);
  const double min_s = to_seconds(min_);
  const double raw = max_s - frac * (max_s - min_s);
  Duration timeout = std::chrono::milliseconds(static_cast<int64_t>(std::floor(1000.0 * raw)));
  if (timeout < min_) timeout = min_;
  const TimePoint next = start_ + timeout;
  if (next < deadline_) deadline_ = next;
  return true;
}

}  // namespace shoal::gossip
