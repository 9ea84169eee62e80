#include "node/auth/failure_limiter.h"

#include <algorithm>
#include <cmath>

namespace shoal::node::auth {

void FailureLimiter::refill(Bucket& b, TimePoint now) const {
  if (now <= b.at) return;
  const double gained = std::chrono::duration<double>(now - b.at).count() /
                        std::chrono::duration<double>(opts_.refill).count();
  b.tokens = std::min<double>(opts_.burst, b.tokens + gained);
  b.at = now;
}

Duration FailureLimiter::blocked_for(const std::string& addr, TimePoint now) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(addr);
  if (it == buckets_.end()) return Duration::zero();
  refill(it->second, now);
  if (it->second.tokens >= 1) return Duration::zero();
  const double missing = 1 - it->second.tokens;
  return std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(missing * std::chrono::duration<double>(opts_.refill).count()));
}

void FailureLimiter::failed(const std::string& addr, TimePoint now) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(addr);
  if (it == buckets_.end()) {
    if (buckets_.size() >= opts_.max_addresses) {
      auto oldest = std::min_element(buckets_.begin(), buckets_.end(), [](const auto& a, const auto& b) {
        return a.second.at < b.second.at;
      });
      buckets_.erase(oldest);
    }
    it = buckets_.emplace(addr, Bucket{static_cast<double>(opts_.burst), now}).first;
  }
  refill(it->second, now);
  it->second.tokens = std::max(0.0, it->second.tokens - 1);
}

size_t FailureLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

std::string remote_host(const std::string& remote) {
  if (!remote.empty() && remote.front() == '[') {
    const auto close = remote.find(']');
    return close == std::string::npos ? remote : remote.substr(1, close - 1);
  }
  const auto colon = remote.rfind(':');
  return colon == std::string::npos ? remote : remote.substr(0, colon);
}

}  // namespace shoal::node::auth
