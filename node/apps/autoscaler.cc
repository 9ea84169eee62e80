#include "node/apps/autoscaler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace shoal::node::apps {

namespace {

// What one signal asks for: `count` (the current one when it is content) and why.
struct Proposal {
  int count = 0;
  std::string reason;
};

std::optional<Proposal> cpu_proposal(const AutoscaleInput& in) {
  const AutoscaleRule& r = in.rule;
  const int64_t from = in.now_ms - r.window_ms;
  double sum = 0;
  int counted = 0;
  for (const auto& inst : in.instances) {
    double s = 0;
    int n = 0;
    int64_t first = 0, last = 0;
    for (const auto& c : inst.samples) {
      if (c.at_ms <= from || c.at_ms > in.now_ms || c.cpu_percent < 0) continue;
      if (n == 0) first = c.at_ms;
      last = c.at_ms;
      s += c.cpu_percent;
      ++n;
    }
    if (n < 2 || (last - first) * 2 < r.window_ms) continue;  // not enough to judge it
    sum += s / n;
    ++counted;
  }
  if (counted == 0) return std::nullopt;
  const double mean = sum / counted;
  const double target = r.target_cpu_percent;
  const std::string seen =
      fmt::format("mean CPU {:.0f}% of the limit over {}s on {} instance{}", mean,
                  r.window_ms / 1000, counted, counted == 1 ? "" : "s");
  if (mean > target) {
    int n = static_cast<int>(std::ceil(in.count * mean / target));
    n = std::max(n, in.count + 1);
    return Proposal{n, fmt::format("{} > target {}%", seen, r.target_cpu_percent)};
  }
  const int n =
      std::max(1, static_cast<int>(std::ceil(in.count * mean / (target * kScaleDownFraction))));
  if (n < in.count) {
    return Proposal{n, fmt::format("{}: {} instance{} would run below {:.0f}% of target {}%",
                                   seen, n, n == 1 ? "" : "s", kScaleDownFraction * 100,
                                   r.target_cpu_percent)};
  }
  return Proposal{in.count, ""};
}

std::optional<Proposal> rps_proposal(const AutoscaleInput& in) {
  const AutoscaleRule& r = in.rule;
  if (r.target_rps <= 0 || !in.rps) return std::nullopt;
  const double rps = std::max(0.0, *in.rps);
  const double target = static_cast<double>(r.target_rps);
  const double per = rps / in.count;
  const std::string seen = fmt::format("{:.1f} requests/s over {}s on {} instance{}", rps,
                                       r.window_ms / 1000, in.count, in.count == 1 ? "" : "s");
  if (per > target) {
    const int n = std::max(in.count + 1, static_cast<int>(std::ceil(rps / target)));
    return Proposal{n, fmt::format("{}: {:.1f} each > target {}", seen, per, r.target_rps)};
  }
  const int n = std::max(1, static_cast<int>(std::ceil(rps / (target * kScaleDownFraction))));
  if (n < in.count) {
    return Proposal{n, fmt::format("{}: {} instance{} would each serve below {:.0f}% of target {}",
                                   seen, n, n == 1 ? "" : "s", kScaleDownFraction * 100,
                                   r.target_rps)};
  }
  return Proposal{in.count, ""};
}

}  // namespace

std::optional<ScaleDecision> decide_scale(const AutoscaleInput& in) {
  const AutoscaleRule& r = in.rule;
  auto decision = [&](int n, std::string reason) -> std::optional<ScaleDecision> {
    n = std::clamp(n, r.min, r.max);
    if (n == in.count) return std::nullopt;
    return ScaleDecision{n, std::move(reason)};
  };
  if (in.count < r.min) return decision(r.min, fmt::format("count {} is below min {}", in.count, r.min));
  if (in.count > r.max) return decision(r.max, fmt::format("count {} is above max {}", in.count, r.max));
  if (in.now_ms - in.last_scale_ms < r.cooldown_ms) return std::nullopt;
  if (in.count == 0) return std::nullopt;

  // The signal that asks for the most instances decides: any one over its target scales
  // up, and a scale-down goes only as far as every signal with data allows.
  std::optional<Proposal> best;
  for (auto p : {cpu_proposal(in), rps_proposal(in)}) {
    if (p && (!best || p->count > best->count)) best = std::move(p);
  }
  if (!best || best->count == in.count) return std::nullopt;
  return decision(best->count, best->reason);
}

void UsageHistory::add(const std::string& id, const supervisor::ResourceUsage& u) {
  auto& q = by_id_[id];
  if (!q.empty() && u.sampled_ms <= q.back().sampled_ms) return;
  q.push_back(u);
  while (!q.empty() && (q.front().sampled_ms < u.sampled_ms - kKeepMs || q.size() > kMaxSamples)) {
    q.pop_front();
  }
}

void UsageHistory::retain(const std::set<std::string>& ids) {
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    it = ids.count(it->first) ? std::next(it) : by_id_.erase(it);
  }
}

std::vector<CpuSample> UsageHistory::cpu(const std::string& id) const {
  std::vector<CpuSample> out;
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return out;
  for (const auto& u : it->second) {
    if (u.cpu_percent >= 0) out.push_back({u.sampled_ms, u.cpu_percent});
  }
  return out;
}

std::map<std::string, supervisor::ResourceUsage> UsageHistory::latest() const {
  std::map<std::string, supervisor::ResourceUsage> out;
  for (const auto& [id, q] : by_id_) {
    if (!q.empty()) out[id] = q.back();
  }
  return out;
}

void add_usage(nlohmann::json& ps, const std::map<std::string, supervisor::ResourceUsage>& latest) {
  auto it = ps.find("instances");
  if (it == ps.end() || !it->is_array()) return;
  for (auto& i : *it) {
    if (!i.is_object()) continue;
    auto u = latest.find(i.value("id", std::string()));
    if (u != latest.end()) i["usage"] = supervisor::to_json(u->second);
  }
}

}  // namespace shoal::node::apps
