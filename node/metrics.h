// node/metrics.h
//
// A small metrics registry, exposed as Prometheus text (exposition format 0.0.4) at
// GET /metrics on every node (docs/api.md, "Metrics"). Counters, gauges and histograms
// with fixed buckets, each family optionally split by labels.
//
//   auto& episodes = metrics::registry().counter("shoal_failover_episodes_total",
//                                                "Node failures that ...");
//   episodes.inc();
//   metrics::registry().counter("shoal_events_total", "...", {"kind"}).labels({"crashed"}).inc();
//
// Contract:
//  - Thread-safe: every method may be called from any thread.
//  - Registering a name twice returns the same family when the type, help and label names
//    match; otherwise it is a programming error and the process aborts (names are fixed in
//    code, so a test catches it at once).
//  - References returned stay valid for the registry's lifetime (families and children
//    are never removed).
//  - Names follow Prometheus: [a-zA-Z_:][a-zA-Z0-9_:]*; label values are escaped on output.
//  - render() lists families sorted by name, children sorted by label values.
//  - Scrape hooks (add_scrape_hook) run at the start of every render(), one at a time, so a
//    component that counts on its own (the router's per-thread counters) folds its numbers
//    into families only when someone looks. A hook must not add or remove hooks;
//    remove_scrape_hook() waits for a hook that is running.
//  - Collectors (add_collector) build whole families afresh at every render(), for series
//    that come and go with what they describe (a Raft group, an instance): a series no
//    longer collected is gone from the next scrape, as Prometheus expects. A collected
//    family whose name is also registered, or is malformed, is left out and logged.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace shoal::node::metrics {

class Counter {
 public:
  void inc(double by = 1);  // by >= 0; a negative amount is ignored
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v); }
  void add(double by);
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // upper bounds, ascending; +Inf implied
  void observe(double v);
  // Adds observations counted elsewhere: `per_bucket` as many as the bounds plus one (+Inf),
  // each the observations in that bucket alone (not cumulative), and their sum. A source
  // that buckets on its own (the router's per-thread counters) folds its growth in.
  void add(const std::vector<uint64_t>& per_bucket, double sum);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative), last one is +Inf
  double sum_ = 0;
};

// Default buckets for durations in seconds: 50 ms to 10 minutes.
std::vector<double> duration_buckets();
// Buckets for short latencies in seconds (node/latency_buckets.h): 0.5 ms to 10 s.
std::vector<double> latency_buckets();

// One family as a collector sees it at a scrape. Counters must come from a source that only
// grows while the process runs (a counter since start).
struct CollectedFamily {
  enum class Type : uint8_t { counter, gauge, histogram };
  struct Sample {
    std::vector<std::string> labels;  // values, one per label name
    double value = 0;                 // counter and gauge
    Histogram::Snapshot histogram;    // histogram: bounds ascending, cumulative per bound + 1
  };
  std::string name;
  std::string help;
  Type type = Type::gauge;
  std::vector<std::string> label_names;
  std::vector<Sample> samples;

  CollectedFamily(std::string n, std::string h, Type t, std::vector<std::string> labels = {})
      : name(std::move(n)), help(std::move(h)), type(t), label_names(std::move(labels)) {}
  CollectedFamily& add(std::vector<std::string> values, double v) {
    samples.push_back({std::move(values), v, {}});
    return *this;
  }
};

template <typename T>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;
  Family(std::vector<std::string> label_names, Factory make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}
  // The child with these label values (as many as label names), made on first use.
  T& labels(const std::vector<std::string>& values);
  // The only child of a family without labels.
  T& get() { return labels({}); }
  const std::vector<std::string>& label_names() const { return label_names_; }
  std::vector<std::pair<std::vector<std::string>, const T*>> children() const;

 private:
  const std::vector<std::string> label_names_;
  const Factory make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

class Registry {
 public:
  Family<Counter>& counter_family(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names);
  Family<Gauge>& gauge_family(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names);
  Family<Histogram>& histogram_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds);
  // Shorthands for a family without labels.
  Counter& counter(const std::string& name, const std::string& help) {
    return counter_family(name, help, {}).get();
  }
  Gauge& gauge(const std::string& name, const std::string& help) {
    return gauge_family(name, help, {}).get();
  }
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<double> bounds) {
    return histogram_family(name, help, {}, std::move(bounds)).get();
  }

  // The text exposition format, version 0.0.4. Runs the scrape hooks first.
  std::string render() const;

  using HookId = uint64_t;
  HookId add_scrape_hook(std::function<void()> hook);
  void remove_scrape_hook(HookId id);
  // A collector runs at every render() after the hooks, on the scraping thread, one at a
  // time; remove_collector() waits for one that is running.
  using Collector = std::function<std::vector<CollectedFamily>()>;
  HookId add_collector(Collector collector);
  void remove_collector(HookId id);  // either kind
  // A text collector's exposition is appended as is after every family, for text that is
  // already in the format (apps' own metrics, relabelled: app_metrics.h). It must not
  // repeat a family the registry or another collector has.
  using TextCollector = std::function<std::string()>;
  HookId add_text_collector(TextCollector collector);

 private:
  struct Entry {
    std::string type;  // counter | gauge | histogram
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
  };
  Entry& entry(const std::string& name, const std::string& type, const std::string& help,
               const std::vector<std::string>& label_names, const std::vector<double>& bounds);

  mutable std::mutex mu_;
  std::map<std::string, Entry> families_;

  mutable std::mutex hooks_mu_;  // held while hooks and collectors run; never inside mu_
  std::map<HookId, std::function<void()>> hooks_;
  std::map<HookId, Collector> collectors_;
  std::map<HookId, TextCollector> text_collectors_;
  HookId next_hook_ = 1;
};

// The process's registry, served at GET /metrics.
Registry& registry();

// ---- implementation of the templates ----

template <typename T>
T& Family<T>::labels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) std::abort();  // a programming error
  std::lock_guard lock(mu_);
  auto& slot = children_[values];
  if (!slot) slot = make_();
  return *slot;
}

template <typename T>
std::vector<std::pair<std::vector<std::string>, const T*>> Family<T>::children() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::vector<std::string>, const T*>> out;
  for (const auto& [values, child] : children_) out.emplace_back(values, child.get());
  return out;
}

}  // namespace shoal::node::metrics
