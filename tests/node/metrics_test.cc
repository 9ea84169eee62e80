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

TEST_CASE("metrics: collected families come and go with each scrape, sorted among the rest",
          "[node][metrics]") {
  Registry r;
  r.gauge("test_b", "Registered.").set(1);
  std::vector<std::string> groups = {"7", "12"};
  const auto id = r.add_collector([&] {
    CollectedFamily term("test_term", "Per group.", CollectedFamily::Type::gauge, {"group"});
    for (const auto& g : groups) term.add({g}, 3);
    CollectedFamily lat("test_c_seconds", "Collected histogram.",
                        CollectedFamily::Type::histogram);
    lat.samples.push_back({{}, 0, Histogram::Snapshot{{0.5}, {1, 2}, 0.75, 2}});
    return std::vector<CollectedFamily>{std::move(term), std::move(lat)};
  });
  CHECK(r.render() ==
        "# HELP test_b Registered.\n"
        "# TYPE test_b gauge\n"
        "test_b 1\n"
        "# HELP test_c_seconds Collected histogram.\n"
        "# TYPE test_c_seconds histogram\n"
        "test_c_seconds_bucket{le=\"0.5\"} 1\n"
        "test_c_seconds_bucket{le=\"+Inf\"} 2\n"
        "test_c_seconds_sum 0.75\n"
        "test_c_seconds_count 2\n"
        "# HELP test_term Per group.\n"
        "# TYPE test_term gauge\n"
        "test_term{group=\"12\"} 3\n"
        "test_term{group=\"7\"} 3\n");
  groups = {"7"};  // group 12 is gone: so is its series
  const std::string text = r.render();
  CHECK(text.find("test_term{group=\"7\"} 3\n") != std::string::npos);
  CHECK(text.find("group=\"12\"") == std::string::npos);
  r.remove_collector(id);
  CHECK(r.render().find("test_term") == std::string::npos);
}

TEST_CASE("metrics: a malformed or clashing collected family is left out, the rest stays",
          "[node][metrics]") {
  Registry r;
  r.gauge("test_taken", "Registered.").set(1);
  r.add_collector([] {
    std::vector<CollectedFamily> out;
    out.emplace_back("test_taken", "Clashes.", CollectedFamily::Type::gauge);
    out.back().add({}, 2);
    out.emplace_back("bad name", "Malformed.", CollectedFamily::Type::gauge);
    out.emplace_back("test_labels", "Wrong label count.", CollectedFamily::Type::gauge,
                     std::vector<std::string>{"a"});
    out.back().add({}, 1);
    out.emplace_back("test_fine", "Fine.", CollectedFamily::Type::counter);
    out.back().add({}, 4);
    return out;
  });
  const std::string text = r.render();
  CHECK(text.find("test_taken 1\n") != std::string::npos);
  CHECK(text.find("test_taken 2") == std::string::npos);
  CHECK(text.find("bad name") == std::string::npos);
  CHECK(text.find("test_labels") == std::string::npos);
  CHECK(text.find("test_fine 4\n") != std::string::npos);
}

TEST_CASE("metrics: a histogram folds in observations bucketed elsewhere", "[node][metrics]") {
  Registry r;
  auto& h = r.histogram("test_fold_seconds", "Folded.", {0.5, 1});
  h.observe(0.7);
  h.add({2, 0, 1}, 3.0);
  const Histogram::Snapshot s = h.snapshot();
  CHECK(s.cumulative == std::vector<uint64_t>{2, 3, 4});
  CHECK(s.count == 4);
  CHECK(s.sum == Approx(3.7));
}
