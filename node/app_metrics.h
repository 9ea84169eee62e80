// node/app_metrics.h
//
// Apps' own metrics (docs/reporting.md, "Apps' own metrics"): an app whose manifest names a
// `metrics_path` is scraped on each web instance's PORT by the node that runs it, whenever
// that node's /metrics is scraped, and its series are re-exposed there with the labels that
// say whose they are: `app`, `release`, `instance`. One scrape of every node then sees the
// platform's metrics and the apps' together.
//
//   shoal_app_metrics_up{app,release,instance}   1 if the instance's last scrape parsed
//
// Rules, because an app is not trusted: its text goes through parse_exposition() (bounded;
// a bad exposition counts as down, whole); names in Shoal's own namespace (shoal_*) are
// dropped; a label of the app's own named app, release or instance is kept as exported_app
// (and so on), as Prometheus does; a family whose type differs from the same name's in
// another instance is left out for that instance.
//
// Contract: scrape_apps() blocks for at most about `timeout` (the targets are scraped at
// once); render_app_metrics() is pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "node/exposition.h"

namespace shoal::node {

struct MetricsTarget {
  std::string app;
  std::string instance;
  int64_t release = 0;
  int port = 0;
  std::string path;  // starts with '/'
};

struct AppScrape {
  MetricsTarget target;
  Result<std::vector<ExposedFamily>> families = Status::unavailable("not scraped");
};

std::vector<AppScrape> scrape_apps(const std::vector<MetricsTarget>& targets, Duration timeout);

std::string render_app_metrics(const std::vector<AppScrape>& scrapes);

}  // namespace shoal::node
