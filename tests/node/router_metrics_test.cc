// Tests of node/router/router_metrics: the router's per-thread traffic folded into /metrics.
#include "node/router/router_metrics.h"

#include <catch2/catch.hpp>

using namespace shoal::node;
using namespace shoal::node::router;

namespace {

AppTraffic traffic(std::string app, uint64_t ok, uint64_t unavailable, uint64_t in, uint64_t out,
                   double seconds, uint64_t in_flight = 0) {
  AppTraffic t;
  t.app = std::move(app);
  t.total.requests = ok + unavailable;
  if (ok) t.total.by_status[200] = ok;
  if (unavailable) t.total.by_status[503] = unavailable;
  t.total.bytes_in = in;
  t.total.bytes_out = out;
  t.total.latency_sum_s = seconds;
  t.total.latency_counts[3] = ok + unavailable;  // each took over 2.5 ms, at most 5 ms
  t.total.in_flight = in_flight;
  return t;
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("router metrics: a scrape folds the router's counters per app and status",
          "[node][router][metrics]") {
  metrics::Registry r;
  std::vector<AppTraffic> now = {traffic("blog", 10, 2, 100, 5000, 0.5, 3)};
  RouterMetrics m(r, [&] { return now; });
  std::string text = r.render();
  CHECK(has(text, R"(shoal_router_requests_total{app="blog",code="200"} 10)"));
  CHECK(has(text, R"(shoal_router_requests_total{app="blog",code="503"} 2)"));
  CHECK(has(text, R"(shoal_router_request_duration_seconds_sum{app="blog"} 0.5)"));
  CHECK(has(text, R"(shoal_router_request_duration_seconds_count{app="blog"} 12)"));
  CHECK(has(text, R"(shoal_router_request_duration_seconds_bucket{app="blog",le="0.0025"} 0)"));
  CHECK(has(text, R"(shoal_router_request_duration_seconds_bucket{app="blog",le="0.005"} 12)"));
  CHECK(has(text, R"(shoal_router_request_duration_seconds_bucket{app="blog",le="+Inf"} 12)"));
  CHECK(has(text, R"(shoal_router_received_bytes_total{app="blog"} 100)"));
  CHECK(has(text, R"(shoal_router_sent_bytes_total{app="blog"} 5000)"));
  CHECK(has(text, R"(shoal_router_requests_in_flight{app="blog"} 3)"));

  now = {traffic("blog", 15, 2, 150, 6000, 1.5, 0), traffic("shop", 1, 0, 0, 10, 0.25)};
  text = r.render();
  CHECK(has(text, R"(shoal_router_requests_total{app="blog",code="200"} 15)"));
  CHECK(has(text, R"(shoal_router_request_duration_seconds_sum{app="blog"} 1.5)"));
  CHECK(has(text, R"(shoal_router_request_duration_seconds_count{app="blog"} 17)"));
  CHECK(has(text, R"(shoal_router_requests_in_flight{app="blog"} 0)"));
  CHECK(has(text, R"(shoal_router_requests_total{app="shop",code="200"} 1)"));
}

TEST_CASE("router metrics: a source that restarts from zero never makes a counter go back",
          "[node][router][metrics]") {
  metrics::Registry r;
  std::vector<AppTraffic> now = {traffic("blog", 10, 0, 0, 0, 1)};
  {
    RouterMetrics m(r, [&] { return now; });
    m.fold();
    now = {traffic("blog", 4, 0, 0, 0, 0.5)};  // a new router: its own counts from zero
    m.fold();
  }
  const std::string text = r.render();  // the hook is gone with m: nothing folds
  CHECK(has(text, R"(shoal_router_requests_total{app="blog",code="200"} 14)"));
  CHECK(has(text, R"(shoal_router_request_duration_seconds_sum{app="blog"} 1.5)"));
  CHECK(has(text, R"(shoal_router_request_duration_seconds_count{app="blog"} 14)"));
}
