// node/router/traffic_counters.cc
#include "node/router/traffic_counters.h"

#include <algorithm>

namespace shoal::node::router {

void add_traffic(Traffic& into, const Traffic& from) {
  into.requests += from.requests;
  for (const auto& [status, count] : from.by_status) into.by_status[status] += count;
  into.bytes_in += from.bytes_in;
  into.bytes_out += from.bytes_out;
  into.in_flight += from.in_flight;
  into.latency_sum_s += from.latency_sum_s;
  for (size_t i = 0; i < into.latency_counts.size(); ++i) {
    into.latency_counts[i] += from.latency_counts[i];
  }
}

AppTraffic& TrafficCounters::app(std::string_view name) {
  auto it = apps_.find(name);
  if (it == apps_.end()) {
    it = apps_.emplace(std::string(name), AppTraffic{}).first;
    it->second.app = std::string(name);
  }
  return it->second;
}

void TrafficCounters::started(std::string_view app_name, std::string_view instance) {
  std::lock_guard lock(mu_);
  auto& a = app(app_name);
  ++a.total.in_flight;
  if (!instance.empty()) ++a.by_instance[std::string(instance)].in_flight;
}

void TrafficCounters::finished(std::string_view app_name, std::string_view instance) {
  std::lock_guard lock(mu_);
  auto& a = app(app_name);
  if (a.total.in_flight > 0) --a.total.in_flight;
  if (!instance.empty()) {
    auto& t = a.by_instance[std::string(instance)];
    if (t.in_flight > 0) --t.in_flight;
  }
}

void TrafficCounters::record(std::string_view app_name, std::string_view instance, int status,
                             uint64_t bytes_in, uint64_t bytes_out, double seconds) {
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(kLatencyBounds.begin(), kLatencyBounds.end(), seconds) -
      kLatencyBounds.begin());
  auto add = [&](Traffic& t) {
    ++t.requests;
    ++t.by_status[status];
    t.bytes_in += bytes_in;
    t.bytes_out += bytes_out;
    t.latency_sum_s += seconds;
    ++t.latency_counts[bucket];
  };
  std::lock_guard lock(mu_);
  auto& a = app(app_name);
  add(a.total);
  if (!instance.empty()) add(a.by_instance[std::string(instance)]);
}

uint64_t TrafficCounters::requests(std::string_view app) const {
  std::lock_guard lock(mu_);
  auto it = apps_.find(app);
  return it == apps_.end() ? 0 : it->second.total.requests;
}

void TrafficCounters::add_to(std::map<std::string, AppTraffic>& into) const {
  std::lock_guard lock(mu_);
  for (const auto& [name, a] : apps_) {
    auto& out = into[name];
    out.app = name;
    add_traffic(out.total, a.total);
    for (const auto& [instance, t] : a.by_instance) add_traffic(out.by_instance[instance], t);
  }
}

}  // namespace shoal::node::router
