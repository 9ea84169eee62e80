#include "node/router/router_metrics.h"

namespace shoal::node::router {
namespace {

// The growth from `before` to `now`; a source that restarted (now below before) counts from 0.
uint64_t grown(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

}  // namespace

RouterMetrics::RouterMetrics(metrics::Registry& registry, Source source)
    : registry_(registry), source_(std::move(source)) {
  hook_ = registry_.add_scrape_hook([this] { fold(); });
}

RouterMetrics::~RouterMetrics() { registry_.remove_scrape_hook(hook_); }

void RouterMetrics::fold() {
  auto& requests = registry_.counter_family(
      "shoal_router_requests_total", "Requests the router answered, by app and HTTP status.",
      {"app", "code"});
  auto& duration = registry_.histogram_family(
      "shoal_router_request_duration_seconds",
      "How long the router took to answer a request, from its first byte to the response's "
      "last.",
      {"app"}, metrics::latency_buckets());
  auto& received = registry_.counter_family(
      "shoal_router_received_bytes_total", "Request body bytes the router received.", {"app"});
  auto& sent = registry_.counter_family("shoal_router_sent_bytes_total",
                                        "Response body bytes the router sent.", {"app"});
  auto& in_flight = registry_.gauge_family("shoal_router_requests_in_flight",
                                           "Requests the router is serving now.", {"app"});
  for (const AppTraffic& app : source_()) {
    const Traffic& now = app.total;
    const Traffic before = seen_[app.app];
    for (const auto& [code, count] : now.by_status) {
      auto it = before.by_status.find(code);
      requests.labels({app.app, std::to_string(code)})
          .inc(static_cast<double>(grown(count, it == before.by_status.end() ? 0 : it->second)));
    }
    // A source that restarted has fewer requests than before: all of its counts are new.
    const bool restarted = now.requests < before.requests;
    std::vector<uint64_t> per_bucket(now.latency_counts.size());
    for (size_t i = 0; i < per_bucket.size(); ++i) {
      per_bucket[i] = restarted ? now.latency_counts[i]
                                : grown(now.latency_counts[i], before.latency_counts[i]);
    }
    duration.labels({app.app})
        .add(per_bucket, restarted ? now.latency_sum_s : now.latency_sum_s - before.latency_sum_s);
    received.labels({app.app}).inc(static_cast<double>(grown(now.bytes_in, before.bytes_in)));
    sent.labels({app.app}).inc(static_cast<double>(grown(now.bytes_out, before.bytes_out)));
    in_flight.labels({app.app}).set(static_cast<double>(now.in_flight));
    seen_[app.app] = now;
  }
}

}  // namespace shoal::node::router
