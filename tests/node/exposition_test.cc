// Tests of node/exposition (the Prometheus text format read back, as an app serves it) and
// node/app_metrics (an app's series re-exposed with the labels that say whose they are).
#include "node/exposition.h"

#include <catch2/catch.hpp>

#include "node/app_metrics.h"
#include "node/metrics.h"

using namespace shoal;
using namespace shoal::node;

TEST_CASE("exposition: families, labels, escapes, histograms and untyped samples",
          "[node][metrics][exposition]") {
  const std::string text =
      "# A comment that is neither HELP nor TYPE\n"
      "# HELP http_requests_total Requests \\\\ served\\nin total.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"get\",path=\"/a \\\"b\\\"\\n\"} 12 1700000000000\n"
      "http_requests_total{method=\"post\",} 1.5e3\r\n"
      "\n"
      "# TYPE latency_seconds histogram\n"
      "latency_seconds_bucket{le=\"0.1\"} 3\n"
      "latency_seconds_bucket{le=\"+Inf\"} 4\n"
      "latency_seconds_sum 0.7\n"
      "latency_seconds_count 4\n"
      "# TYPE rpc summary\n"
      "rpc{quantile=\"0.5\"} NaN\n"
      "rpc_sum -Inf\n"
      "rpc_count 0\n"
      "loose_gauge +Inf\n";
  auto fs = parse_exposition(text);
  REQUIRE(fs.ok());
  REQUIRE(fs->size() == 4);
  const ExposedFamily& req = (*fs)[0];
  CHECK(req.name == "http_requests_total");
  CHECK(req.type == "counter");
  CHECK(req.help == "Requests \\ served\nin total.");
  REQUIRE(req.samples.size() == 2);
  CHECK(req.samples[0].labels[1].second == "/a \"b\"\n");
  CHECK(req.samples[0].value == "12");  // the timestamp is dropped
  CHECK(req.samples[1].value == "1.5e3");
  const ExposedFamily& lat = (*fs)[1];
  CHECK(lat.type == "histogram");
  CHECK(lat.samples.size() == 4);
  CHECK((*fs)[2].samples.size() == 3);  // the summary's quantile, sum and count
  CHECK((*fs)[3].name == "loose_gauge");
  CHECK((*fs)[3].type == "untyped");
}

TEST_CASE("exposition: bad text is refused whole, naming the line", "[node][metrics][exposition]") {
  const std::pair<const char*, const char*> cases[] = {
      {"ok 1\n9bad 1\n", "line 2: a sample must start with a metric name"},
      {"m{a=\"x\" 1\n", "line 1: labels of m are not closed"},
      {"m{a=x} 1\n", "line 1: label a of m has no quoted value"},
      {"m{a=\"x\",a=\"y\"} 1\n", "line 1: label a twice in m"},
      {"m{a=\"\\q\"} 1\n", "line 1: label a of m has no quoted value"},
      {"m one\n", "line 1: 'one' is not a number"},
      {"m 1 soon\n", "line 1: 'soon' is not a timestamp"},
      {"m 1 2 3\n", "line 1: more after the timestamp"},
      {"m\n", "line 1: m has no value"},
      {"# TYPE m stopwatch\n", "line 1: unknown metric type 'stopwatch'"},
      {"m 1\n# TYPE m gauge\n", "line 2: # TYPE for m after its samples"},
      {"# HELP\n", "line 1: # HELP without a valid metric name"},
      {"m{1abc=\"x\"} 1\n", "line 1: a bad label name in m"},
      {"m{a:b=\"x\"} 1\n", "line 1: label a of m has no '='"},
  };
  for (const auto& [text, why] : cases) {
    auto r = parse_exposition(text);
    INFO(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == why);
  }
  ExpositionLimits small;
  small.max_samples = 2;
  CHECK(parse_exposition("a 1\nb 2\nc 3\n", small).status().message() ==
        "line 3: more than 2 samples");
  small.max_bytes = 4;
  CHECK_FALSE(parse_exposition("a 1\nb 2\n", small).ok());
}

TEST_CASE("app metrics: series get app, release and instance, clashes are renamed or dropped",
          "[node][metrics][exposition]") {
  auto one = parse_exposition(
      "# TYPE jobs_total counter\njobs_total{instance=\"w1\",queue=\"q\"} 5\n"
      "# TYPE shoal_events_total counter\nshoal_events_total 1\n"
      "# TYPE depth gauge\ndepth 3\n");
  auto two = parse_exposition("# TYPE jobs_total counter\njobs_total 7\n"
                              "# TYPE depth counter\ndepth 9\n");
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  std::vector<AppScrape> scrapes;
  scrapes.push_back({{"blog", "web.1", 3, 1000, "/metrics"}, *one});
  scrapes.push_back({{"blog", "web.2", 3, 1001, "/metrics"}, *two});
  scrapes.push_back({{"shop", "web.1", 1, 1002, "/metrics"}, Status::unavailable("refused")});
  const std::string text = render_app_metrics(scrapes);
  INFO(text);
  CHECK_THAT(text, Catch::Contains(
                       "shoal_app_metrics_up{app=\"blog\",release=\"3\",instance=\"web.1\"} 1\n"));
  CHECK_THAT(text, Catch::Contains(
                       "shoal_app_metrics_up{app=\"shop\",release=\"1\",instance=\"web.1\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("jobs_total{app=\"blog\",release=\"3\",instance=\"web.1\","
                                   "exported_instance=\"w1\",queue=\"q\"} 5\n"));
  CHECK_THAT(text, Catch::Contains("jobs_total{app=\"blog\",release=\"3\",instance=\"web.2\"} 7\n"));
  CHECK(text.find("# TYPE jobs_total counter") != std::string::npos);
  CHECK(text.find("shoal_events_total") == std::string::npos);  // Shoal's namespace
  CHECK_THAT(text, Catch::Contains("depth{app=\"blog\",release=\"3\",instance=\"web.1\"} 3\n"));
  CHECK(text.find("depth{app=\"blog\",release=\"3\",instance=\"web.2\"}") == std::string::npos);
  CHECK(render_app_metrics({}).empty());

  // What comes out parses again, every family once.
  auto again = parse_exposition(text);
  REQUIRE(again.ok());
  CHECK(again->size() == 3);
}

TEST_CASE("metrics: a text collector's exposition follows the registry's families",
          "[node][metrics]") {
  metrics::Registry r;
  r.gauge("test_a", "A.").set(1);
  const auto id = r.add_text_collector([] { return std::string("# TYPE app_b gauge\napp_b 2\n"); });
  CHECK(r.render() == "# HELP test_a A.\n# TYPE test_a gauge\ntest_a 1\n# TYPE app_b gauge\napp_b 2\n");
  r.remove_collector(id);
  CHECK(r.render().find("app_b") == std::string::npos);
}
