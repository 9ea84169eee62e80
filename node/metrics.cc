#include "node/metrics.h"

#include "node/exposition.h"
#include "node/latency_buckets.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace shoal::node::metrics {
namespace {

bool valid_name(const std::string& n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Prometheus floats: integers without a fraction, +Inf/-Inf/NaN spelled its way.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{}", v);
}

// {a="x",b="y"} with an extra label (le) appended when given; "" without labels.
std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      const std::string& extra_name = {}, const std::string& extra_value = {}) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", names[i], escape_label_value(values[i]));
  }
  if (!extra_name.empty()) {
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", extra_name, extra_value);
  }
  return out.empty() ? "" : "{" + out + "}";
}

[[noreturn]] void misuse(const std::string& what) {
  spdlog::critical("metrics-misuse reason=\"{}\"", what);
  std::abort();
}

}  // namespace

void Counter::inc(double by) {
  if (!(by >= 0)) return;
  double cur = value_.load();
  while (!value_.compare_exchange_weak(cur, cur + by)) {
  }
}

void Gauge::add(double by) {
  double cur = value_.load();
  while (!value_.compare_exchange_weak(cur, cur + by)) {
  }
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end()) {
    misuse("histogram bounds must ascend strictly");
  }
}

void Histogram::observe(double v) {
  if (std::isnan(v)) return;
  const size_t i = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());  // le: v <= bound
  std::lock_guard lock(mu_);
  ++counts_[i];
  sum_ += v;
}

void Histogram::add(const std::vector<uint64_t>& per_bucket, double sum) {
  if (per_bucket.size() != counts_.size()) misuse("histogram add with the wrong bucket count");
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += per_bucket[i];
  if (sum > 0) sum_ += sum;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard lock(mu_);
  uint64_t total = 0;
  for (uint64_t c : counts_) {
    total += c;
    s.cumulative.push_back(total);
  }
  s.count = total;
  s.sum = sum_;
  return s;
}

std::vector<double> duration_buckets() {
  return {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600};
}

std::vector<double> latency_buckets() {
  return {kLatencyBounds.begin(), kLatencyBounds.end()};
}

Registry::Entry& Registry::entry(const std::string& name, const std::string& type,
                                 const std::string& help,
                                 const std::vector<std::string>& label_names,
                                 const std::vector<double>& bounds) {
  if (!valid_name(name)) misuse("bad metric name '" + name + "'");
  for (const auto& l : label_names) {
    if (!valid_name(l) || l == "le") misuse("bad label name '" + l + "' of " + name);
  }
  auto [it, inserted] = families_.try_emplace(name);
  Entry& e = it->second;
  if (inserted) {
    e.type = type;
    e.help = help;
    e.label_names = label_names;
    e.bounds = bounds;
  } else if (e.type != type || e.help != help || e.label_names != label_names ||
             e.bounds != bounds) {
    misuse("metric '" + name + "' registered twice, differently");
  }
  return e;
}

Family<Counter>& Registry::counter_family(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  Entry& e = entry(name, "counter", help, label_names, {});
  if (!e.counters) {
    e.counters = std::make_unique<Family<Counter>>(std::move(label_names),
                                                   [] { return std::make_unique<Counter>(); });
  }
  return *e.counters;
}

Family<Gauge>& Registry::gauge_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  Entry& e = entry(name, "gauge", help, label_names, {});
  if (!e.gauges) {
    e.gauges = std::make_unique<Family<Gauge>>(std::move(label_names),
                                               [] { return std::make_unique<Gauge>(); });
  }
  return *e.gauges;
}

Family<Histogram>& Registry::histogram_family(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  Entry& e = entry(name, "histogram", help, label_names, bounds);
  if (!e.histograms) {
    e.histograms = std::make_unique<Family<Histogram>>(
        std::move(label_names), [bounds] { return std::make_unique<Histogram>(bounds); });
  }
  return *e.histograms;
}

Registry::HookId Registry::add_scrape_hook(std::function<void()> hook) {
  std::lock_guard lock(hooks_mu_);
  const HookId id = next_hook_++;
  hooks_.emplace(id, std::move(hook));
  return id;
}

void Registry::remove_scrape_hook(HookId id) {
  std::lock_guard lock(hooks_mu_);
  hooks_.erase(id);
}

Registry::HookId Registry::add_collector(Collector collector) {
  std::lock_guard lock(hooks_mu_);
  const HookId id = next_hook_++;
  collectors_.emplace(id, std::move(collector));
  return id;
}

Registry::HookId Registry::add_text_collector(TextCollector collector) {
  std::lock_guard lock(hooks_mu_);
  const HookId id = next_hook_++;
  text_collectors_.emplace(id, std::move(collector));
  return id;
}

void Registry::remove_collector(HookId id) {
  std::lock_guard lock(hooks_mu_);
  collectors_.erase(id);
  text_collectors_.erase(id);
}

namespace {

const char* type_name(CollectedFamily::Type t) {
  switch (t) {
    case CollectedFamily::Type::counter: return "counter";
    case CollectedFamily::Type::gauge: return "gauge";
    case CollectedFamily::Type::histogram: return "histogram";
  }
  return "untyped";
}

// Why a collected family can't be rendered, or "" when it can.
std::string malformed(const CollectedFamily& f) {
  if (!valid_name(f.name)) return "bad metric name";
  for (const auto& l : f.label_names) {
    if (!valid_name(l) || l == "le") return "bad label name '" + l + "'";
  }
  for (const auto& s : f.samples) {
    if (s.labels.size() != f.label_names.size()) return "a sample has the wrong label count";
    if (f.type == CollectedFamily::Type::histogram &&
        s.histogram.cumulative.size() != s.histogram.bounds.size() + 1) {
      return "a histogram sample has the wrong bucket count";
    }
  }
  return {};
}

void render_family(std::string& out, const CollectedFamily& f) {
  const std::string& name = f.name;
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(f.help), name,
                     type_name(f.type));
  for (const auto& s : f.samples) {
    if (f.type != CollectedFamily::Type::histogram) {
      out += fmt::format("{}{} {}\n", name, label_set(f.label_names, s.labels), number(s.value));
      continue;
    }
    const Histogram::Snapshot& h = s.histogram;
    for (size_t i = 0; i <= h.bounds.size(); ++i) {
      const std::string le = i < h.bounds.size() ? number(h.bounds[i]) : "+Inf";
      out += fmt::format("{}_bucket{} {}\n", name, label_set(f.label_names, s.labels, "le", le),
                         h.cumulative[i]);
    }
    out += fmt::format("{}_sum{} {}\n", name, label_set(f.label_names, s.labels), number(h.sum));
    out += fmt::format("{}_count{} {}\n", name, label_set(f.label_names, s.labels), h.count);
  }
}

}  // namespace

std::string Registry::render() const {
  std::vector<CollectedFamily> collected;
  std::string texts;
  {
    // Hooks update families (taking mu_ themselves), so they run before mu_ is held.
    std::lock_guard hooks(hooks_mu_);
    for (const auto& [id, hook] : hooks_) hook();
    for (const auto& [id, collect] : collectors_) {
      for (auto& f : collect()) collected.push_back(std::move(f));
    }
    for (const auto& [id, collect] : text_collectors_) texts += collect();
  }
  // Every family, registered or collected, as one sorted list.
  std::map<std::string, CollectedFamily> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : families_) {
      CollectedFamily f(name, e.help, CollectedFamily::Type::gauge, e.label_names);
      if (e.counters) {
        f.type = CollectedFamily::Type::counter;
        for (const auto& [values, c] : e.counters->children()) f.add(values, c->value());
      } else if (e.gauges) {
        for (const auto& [values, g] : e.gauges->children()) f.add(values, g->value());
      } else if (e.histograms) {
        f.type = CollectedFamily::Type::histogram;
        for (const auto& [values, h] : e.histograms->children()) {
          f.samples.push_back({values, 0, h->snapshot()});
        }
      }
      all.emplace(name, std::move(f));
    }
  }
  for (auto& f : collected) {
    std::string why = malformed(f);
    if (why.empty() && all.count(f.name)) why = "the name is taken by another family";
    if (!why.empty()) {
      spdlog::error("metrics-collected-family-dropped name=\"{}\" reason=\"{}\"",
                    escape_label_value(f.name), why);
      continue;
    }
    std::sort(f.samples.begin(), f.samples.end(),
              [](const auto& a, const auto& b) { return a.labels < b.labels; });
    std::string name = f.name;
    all.emplace(std::move(name), std::move(f));
  }
  std::string out;
  for (const auto& [name, f] : all) render_family(out, f);
  return out + texts;
}

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: threads may still count at exit
  return *r;
}

}  // namespace shoal::node::metrics
