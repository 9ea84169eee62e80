// Tests of node/metrics: counters, gauges, histograms and their Prometheus text.
#include "node/metrics.h"

#include <catch2/catch.hpp>

#include <thread>

using namespace shoal::node::metrics;

TEST_CASE("metrics: counters and gauges render as Prometheus text", "[node][metrics]") {
  Registry r;
  r.counter("test_things_total", "Things counted.").inc();
  r.counter("test_things_total", "Things counted.").inc(2);  // the same family
  r.counter("test_things_total", "Things counted.").inc(-5);  // ignored: counters only grow
  auto& kinds = r.counter_family("test_events_total", "Events by kind.", {"kind"});
  kinds.labels({"crashed"}).inc();
  kinds.labels({"a\"b\\c\nd"}).inc(0.5);
  r.gauge("test_level", "A level.").set(-2.5);
  const std::string text = r.render();
  CHECK(text ==
        "# HELP test_events_total Events by kind.\n"
        "# TYPE test_events_total counter\n"
        "test_events_total{kind=\"a\\\"b\\\\c\\nd\"} 0.5\n"
        "test_events_total{kind=\"crashed\"} 1\n"
        "# HELP test_level A level.\n"
        "# TYPE test_level gauge\n"
        "test_level -2.5\n"
        "# HELP test_things_total Things counted.\n"
        "# TYPE test_things_total counter\n"
        "test_things_total 3\n");
}

TEST_CASE("metrics: a histogram's buckets are cumulative, with +Inf, sum and count",
          "[node][metrics]") {
  Registry r;
  auto& h = r.histogram("test_seconds", "Durations.", {0.5, 1, 5});
  h.observe(0.2);
  h.observe(1);  // le="1" includes 1
  h.observe(3);
  h.observe(100);
  CHECK(r.render() ==
        "# HELP test_seconds Durations.\n"
        "# TYPE test_seconds histogram\n"
        "test_seconds_bucket{le=\"0.5\"} 1\n"
        "test_seconds_bucket{le=\"1\"} 2\n"
        "test_seconds_bucket{le=\"5\"} 3\n"
        "test_seconds_bucket{le=\"+Inf\"} 4\n"
        "test_seconds_sum 104.2\n"
        "test_seconds_count 4\n");
}

TEST_CASE("metrics: counting from many threads loses nothing", "[node][metrics]") {
  Registry r;
  auto& c = r.counter("test_total", "x");
  auto& h = r.histogram("test_h", "x", duration_buckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(c.value() == 40000);
  CHECK(h.snapshot().count == 40000);
}

TEST_CASE("metrics: scrape hooks run before every render, until removed", "[node][metrics]") {
  Registry r;
  int scrapes = 0;
  const auto id = r.add_scrape_hook([&] {
    ++scrapes;
    r.gauge("test_scrapes", "Scrapes seen.").set(scrapes);
  });
  CHECK(r.render().find("test_scrapes 1\n") != std::string::npos);
  CHECK(r.render().find("test_scrapes 2\n") != std::string::npos);
  r.remove_scrape_hook(id);
  CHECK(r.render().find("test_scrapes 2\n") != std::string::npos);
  CHECK(scrapes == 2);
}
