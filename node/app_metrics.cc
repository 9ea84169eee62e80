#include "node/app_metrics.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <future>
#include <map>

#include "node/http_client.h"

namespace shoal::node {
namespace {

constexpr const char* kOwnLabels[] = {"app", "release", "instance"};

Result<std::vector<ExposedFamily>> scrape_one(const MetricsTarget& t, Duration timeout) {
  HttpExchange ex;
  ex.target = t.path;
  ex.timeout = timeout;
  ex.headers.emplace("Accept", "text/plain;version=0.0.4");
  auto r = http_request("127.0.0.1", t.port, ex);
  if (!r.ok()) return r.status();
  if (r->status != 200) return Status::unavailable(fmt::format("answered HTTP {}", r->status));
  return parse_exposition(r->body);
}

std::string label_text(const MetricsTarget& t,
                       const std::vector<std::pair<std::string, std::string>>& labels) {
  std::string out = fmt::format("app=\"{}\",release=\"{}\",instance=\"{}\"",
                                escape_label_value(t.app), t.release,
                                escape_label_value(t.instance));
  for (const auto& [k, v] : labels) {
    bool taken = false;
    for (const char* own : kOwnLabels) taken = taken || k == own;
    out += fmt::format(",{}{}=\"{}\"", taken ? "exported_" : "", k, escape_label_value(v));
  }
  return "{" + out + "}";
}

}  // namespace

std::vector<AppScrape> scrape_apps(const std::vector<MetricsTarget>& targets, Duration timeout) {
  std::vector<std::future<Result<std::vector<ExposedFamily>>>> calls;
  calls.reserve(targets.size());
  for (const auto& t : targets) {
    calls.push_back(std::async(std::launch::async, [t, timeout] { return scrape_one(t, timeout); }));
  }
  std::vector<AppScrape> out;
  for (size_t i = 0; i < targets.size(); ++i) {
    AppScrape s{targets[i]};
    s.families = calls[i].get();
    if (!s.families.ok()) {
      spdlog::debug("app-metrics-scrape-failed app={} instance={} reason=\"{}\"", targets[i].app,
                    targets[i].instance, s.families.status().to_string());
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string render_app_metrics(const std::vector<AppScrape>& scrapes) {
  if (scrapes.empty()) return {};
  std::string out =
      "# HELP shoal_app_metrics_up 1 if the instance's own metrics were scraped and parsed at "
      "this scrape.\n# TYPE shoal_app_metrics_up gauge\n";
  for (const auto& s : scrapes) {
    out += fmt::format("shoal_app_metrics_up{} {}\n", label_text(s.target, {}),
                       s.families.ok() ? 1 : 0);
  }
  // Every family by name across the instances: the first instance's help and type stand.
  struct Merged {
    std::string help, type, lines;
  };
  std::map<std::string, Merged> merged;
  for (const auto& s : scrapes) {
    if (!s.families.ok()) continue;
    for (const ExposedFamily& f : *s.families) {
      if (f.name.rfind("shoal_", 0) == 0 || f.samples.empty()) continue;
      auto [it, fresh] = merged.try_emplace(f.name, Merged{f.help, f.type, {}});
      if (!fresh && it->second.type != f.type) continue;
      for (const ExposedSample& sample : f.samples) {
        it->second.lines += sample.name + label_text(s.target, sample.labels) + " " +
                            sample.value + "\n";
      }
    }
  }
  for (const auto& [name, m] : merged) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{}", name, escape_help(m.help), name, m.type,
                       m.lines);
  }
  return out;
}

}  // namespace shoal::node
