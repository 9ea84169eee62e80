#include "node/supervisor/usage_report.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "node/duration_text.h"

namespace shoal::node::supervisor {

using nlohmann::json;

namespace {
// Rates to a tenth of a milli-core / a hundredth of a percent: samples are not more exact.
double rounded(double v, double step) { return std::round(v / step) * step; }
}  // namespace

Result<UsageQuery> parse_usage_query(const std::optional<std::string>& app,
                                     const std::optional<std::string>& window, int64_t now_ms) {
  UsageQuery q;
  if (app) q.app = *app;
  if (!window) return q;
  auto d = parse_duration(*window);
  if (!d.ok()) return Status::invalid_argument("window: " + d.status().message());
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d).count();
  constexpr int64_t kHourMs = 60 * UsageSeries::kMinuteMs;
  if (ms <= 0 || ms > kHourMs) {
    return Status::invalid_argument("window: must be more than 0 and at most 1h, not " + *window);
  }
  // The recent ring holds about 5 minutes of samples; longer windows read the minutes.
  q.history = ms <= 5 * UsageSeries::kMinuteMs ? UsageQuery::History::recent
                                               : UsageQuery::History::minutes;
  q.since_ms = now_ms - ms;
  return q;
}

json to_json(const UsagePoint& p) {
  json j = {{"ms", p.ms}};
  if (p.cpu_millis >= 0) j["cpu_millis"] = rounded(p.cpu_millis, 0.1);
  if (p.cpu_percent >= 0) j["cpu_percent"] = rounded(p.cpu_percent, 0.01);
  if (p.memory_bytes >= 0) j["memory_bytes"] = p.memory_bytes;
  if (p.rss_bytes >= 0) j["rss_bytes"] = p.rss_bytes;
  return j;
}

json to_json(const HostUsage& u) {
  json j = {{"sampled_ms", u.sampled_ms},
            {"cores", u.cores},
            {"memory_total_bytes", u.memory_total_bytes},
            {"memory_used_bytes", u.memory_used_bytes},
            {"agent_rss_bytes", u.agent_rss_bytes}};
  if (u.cpu_millis >= 0) j["cpu_millis"] = rounded(u.cpu_millis, 0.1);
  if (u.cpu_percent >= 0) j["cpu_percent"] = rounded(u.cpu_percent, 0.01);
  if (u.agent_cpu_millis >= 0) j["agent_cpu_millis"] = rounded(u.agent_cpu_millis, 0.1);
  return j;
}

json to_json(const NodeUsageReport& r) {
  json instances = json::array();
  for (const auto& i : r.instances) {
    json j = to_json(i.status);
    j["app"] = i.app;
    j["node"] = r.node;
    j["release"] = i.release;
    if (!i.history.empty()) {
      json h = json::array();
      for (const auto& p : i.history) h.push_back(to_json(p));
      j["history"] = std::move(h);
    }
    instances.push_back(std::move(j));
  }
  json j = {{"node", r.node}, {"instances", std::move(instances)}};
  if (r.host) j["usage"] = to_json(*r.host);
  if (!r.host_history.empty()) {
    json h = json::array();
    for (const auto& p : r.host_history) h.push_back(to_json(p));
    j["history"] = std::move(h);
  }
  return j;
}

}  // namespace shoal::node::supervisor
