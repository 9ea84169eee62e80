// simulations/simulator.h
//
// Simulator: a discrete-event run of one Scenario with one seed. The cores are the shipping
// gossip objects (sim_node.h); around them the simulator supplies a virtual clock, the
// event queue (event_queue.h), a faulty network (network_model.h), per-node clocks with
// skew (node_clock.h), crashes and restarts (durable_store.h) and the observer that turns
// what nodes see into checks (observer.h).
//
// Contract:
//  - Deterministic: one Rng seeded with `seed` is the root of every random choice (node
//    cores, network, start times, random fault targets get forks of it, in a fixed order);
//    no wall clock, no threads. Same scenario + seed => byte-identical RunReport::summary,
//    ::csv and ::svg.
//  - Streams are modelled: a connect costs a round trip, a crashed target refuses, a cut
//    or partitioned path times out at the request's deadline, and a lossy link delays.
//  - Slow nodes take each input `delay` late while their timers fire on time (an overloaded
//    receive path); paused nodes do nothing until the pause ends (a GC pause).
//  - The gossip core's own logs are silenced for the run (spdlog level restored after).
//  - Single-threaded; independent runs may go on different threads or processes.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "simulations/observer.h"
#include "simulations/scenario.h"

namespace shoal::sim {

struct RunOptions {
  uint64_t seed = 1;
  std::optional<int64_t> nodes;  // overrides the scenario's cluster size
  bool csv = false;               // build the per-node CSV timeline
  bool svg = false;               // render the plot
  // Check a node's invariants after every k-th step it takes (0: choose from cluster size).
  uint64_t invariant_stride = 0;
};

struct CheckOutcome {
  std::string name;
  bool passed = true;
  std::string detail;
};

struct RunReport {
  std::string scenario;
  uint64_t seed = 0;
  size_t nodes = 0;
  bool passed = true;
  std::vector<CheckOutcome> checks;
  std::vector<Sample> samples;
  std::vector<KillRecord> kills;
  std::vector<Episode> episodes;
  std::vector<std::pair<double, std::string>> faults;  // (seconds, label) for the plot
  uint64_t false_positives = 0;
  Duration max_false_failed{};
  std::string max_false_failed_pair;
  std::vector<std::string> false_positive_log;  // the first few
  std::vector<UserEventRecord> user_events;     // in the order they were sent
  uint64_t events = 0;
  uint64_t packets_sent = 0, packets_delivered = 0, packets_lost = 0;
  uint64_t streams = 0, streams_failed = 0;
  uint64_t bytes_sent = 0;
  uint64_t past_wakeups = 0;  // the core asked to be woken at or before `now`
  uint64_t digest = 0;        // FNV-1a over every delivery (time, from, to, bytes)
  double sim_seconds = 0;
  std::string summary;  // deterministic
  std::string csv;      // deterministic, when asked
  std::string svg;      // deterministic, when asked

  // About this machine, not the run: never part of the files above.
  double wall_seconds = 0;
  int64_t peak_rss_kb = 0;
};

Result<RunReport> run_scenario(const Scenario& scenario, const RunOptions& options);

// Peak resident set size of this process (VmHWM), in KiB; 0 if unknown.
int64_t peak_rss_kb();

}  // namespace shoal::sim
