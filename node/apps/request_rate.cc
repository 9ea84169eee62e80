// node/apps/request_rate.cc
#include "node/apps/request_rate.h"

namespace shoal::node::apps {

void RequestRate::add(const std::string& node, int64_t at_ms, uint64_t requests) {
  auto& q = by_node_[node];
  if (!q.empty() && at_ms <= q.back().first) return;       // not newer
  if (!q.empty() && requests < q.back().second) q.clear();  // its router restarted
  q.emplace_back(at_ms, requests);
  while (!q.empty() && (q.front().first < at_ms - kKeepMs || q.size() > kMaxSamples)) {
    q.pop_front();
  }
}

std::optional<double> RequestRate::rate(int64_t now_ms, int64_t window_ms) const {
  const int64_t start = now_ms - window_ms;
  double sum = 0;
  bool known = false;
  for (const auto& [node, q] : by_node_) {
    if (q.empty() || q.back().first > now_ms) continue;
    const std::pair<int64_t, uint64_t>* base = nullptr;
    for (const auto& s : q) {
      if (s.first <= start) {
        base = &s;
      } else {
        if (base == nullptr) base = &s;
        break;
      }
    }
    const auto& newest = q.back();
    if (base == nullptr || (newest.first - base->first) * 2 < window_ms) continue;
    sum += static_cast<double>(newest.second - base->second) * 1000.0 /
           static_cast<double>(newest.first - base->first);
    known = true;
  }
  if (!known) return std::nullopt;
  return sum;
}

}  // namespace shoal::node::apps
