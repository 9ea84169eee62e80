// simulations/scenario.h
//
// Scenario: one "what happens to my cluster if..." question, as loaded from a TOML file
// under simulations/scenarios/ (format documented in docs/simulator.md): the cluster, the
// network's defaults, a timeline of faults, and the checks that must hold.
//
// Contract:
//  - load_scenario() never throws; a bad file gives invalid_argument whose message names the
//    file, the line, the key and what was wrong ("x.toml:12: events[2].kill: ...").
//  - Unknown keys are errors (a typo must not silently turn a fault off).
//  - Node selectors are resolved when the fault fires (random picks come from the run's
//    Rng); indices out of range for the run's node count are reported by validate().
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "gossip/config.h"
#include "simulations/network_model.h"

namespace shoal::sim {

// Which nodes a fault applies to.
struct NodeSelector {
  enum class Kind : uint8_t { list, all, rest, random, fraction };
  Kind kind = Kind::list;
  std::vector<int64_t> indices;  // list; negative counts from the end (-1: last node)
  int64_t count = 0;             // random: this many distinct nodes, up ones first
  double fraction = 0;           // fraction: round(fraction * nodes) random nodes
  std::string to_string() const;
};

struct FaultEvent {
  enum class Kind : uint8_t {
    kill,       // crash without a word (kill -9): nodes
    restart,    // start again, fresh, same name and address: nodes
    leave,      // graceful leave: nodes
    partition,  // cut nodes from others (one_way: only nodes -> others)
    heal,       // remove partitions named `name` (or all)
    slow,       // nodes process each input `delay` late (timers still fire on time)
    unslow,     // nodes are back to normal speed
    pause,      // nodes freeze for `delay` (GC pause): inputs and timers wait
    link,       // set link overrides between nodes and others (loss, latency, ...)
    clear_link, // remove link overrides named `name` (or all)
    skew,       // nodes' clocks drift by drift_ppm and jump forward by `delay`
    bandwidth,  // nodes' egress cap in bytes/s (0: unlimited)
  };
  Kind kind = Kind::kill;
  Duration at{};
  std::string where;  // "events[3]" for messages
  NodeSelector nodes;
  NodeSelector others;  // partition/link: default "rest"
  bool one_way = false;
  Duration delay{};
  std::string name;
  LinkOverride link;
  int64_t drift_ppm = 0;
  double rate = 0;
};

struct Checks {
  std::optional<Duration> converge_within;   // after start, each restart and each heal
  std::optional<Duration> detect_within;     // of each kill, by every live node
  std::optional<Duration> max_false_failed;  // a reachable live node is failed no longer
  std::optional<int64_t> max_false_positives;
};

struct Scenario {
  std::string file;  // where it came from, for messages
  std::string name;
  std::string description;
  Duration duration = std::chrono::seconds(60);
  Duration sample_interval = std::chrono::seconds(1);

  int64_t nodes = 10;
  std::string engine = "serf";
  gossip::Config gossip = gossip::Config::lan();
  Duration join_window = std::chrono::seconds(2);  // nodes 1.. start in [0, window]
  int64_t seeds = 1;                               // nodes join the first `seeds` nodes
  Duration tick_floor = std::chrono::milliseconds(1);

  LinkParams network;
  double bandwidth = 0;  // egress bytes/s of every node; 0: unlimited
  std::vector<FaultEvent> timeline;  // sorted by `at` (stable)
  Checks checks;

  // Checks the selectors against `nodes` (after a --nodes override).
  Status validate() const;
};

Result<Scenario> parse_scenario(std::string_view toml_text, std::string_view file);
Result<Scenario> load_scenario(const std::string& path);

std::string_view to_string(FaultEvent::Kind k);

}  // namespace shoal::sim
