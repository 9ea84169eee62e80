// node/router/router_metrics.h
//
// RouterMetrics: the router's traffic in GET /metrics. The router counts per IO thread
// without locks (router.h, traffic()); this folds those counters into the process's metrics
// registry when /metrics is scraped, as per-app families:
//
//   shoal_router_requests_total{app,code}      requests answered, by HTTP status
//   shoal_router_request_duration_seconds{app} latency histogram (node/latency_buckets.h)
//   shoal_router_received_bytes_total{app}     request bodies
//   shoal_router_sent_bytes_total{app}         response bodies
//   shoal_router_requests_in_flight{app}       gauge
//
// Per-instance numbers stay out of /metrics (instance ids change with every deploy, and
// registry children are never removed); GET /v1/router/traffic has them.
//
// Contract: folds the growth since the previous scrape, so counters only grow even when the
// source restarts from zero. Unregisters its hook on destruction; the source must outlive it.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "node/metrics.h"
#include "node/router/router.h"

namespace shoal::node::router {

class RouterMetrics {
 public:
  using Source = std::function<std::vector<AppTraffic>()>;
  RouterMetrics(metrics::Registry& registry, Source source);
  ~RouterMetrics();
  RouterMetrics(const RouterMetrics&) = delete;
  RouterMetrics& operator=(const RouterMetrics&) = delete;

  // What a scrape does; public so tests can drive it without rendering.
  void fold();

 private:
  metrics::Registry& registry_;
  Source source_;
  metrics::Registry::HookId hook_;
  std::map<std::string, Traffic> seen_;  // app -> totals at the previous fold
};

}  // namespace shoal::node::router
