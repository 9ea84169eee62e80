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

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/rng.h"
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
  // The indices (< n) it names when a fault fires: a list keeps its order (duplicates and
  // out-of-range entries dropped); random and fraction draw from the nodes neither in
  // `exclude` nor refused by `eligible` (null: all), with a partial Fisher-Yates on `rng`,
  // sorted (node_selector.cc).
  std::vector<size_t> resolve(size_t n, const std::vector<size_t>& exclude, Rng& rng,
                              const std::function<bool(size_t)>& eligible = nullptr) const;
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
    event,      // each live node sends `count` Serf user events (serf engine only)
    // Raft engine only (simulations/raft/): membership and leadership, done by the operator.
    add_voter,  // nodes join the group (as learners, promoted once caught up)
    remove,     // nodes leave the group's configuration
    transfer,   // the leader hands leadership to nodes[0]
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
  int64_t count = 1;  // event: user events per node
};

struct Checks {
  std::optional<Duration> converge_within;   // after start, each restart and each heal
  std::optional<Duration> detect_within;     // of each kill, by every live node
  std::optional<Duration> max_false_failed;  // a reachable live node is failed no longer
  std::optional<int64_t> max_false_positives;
  // Serf engine: every user event reaches every node that must get it (event_tracker.h).
  std::optional<Duration> events_within;
  // Raft engine: at least this many client writes / reads acknowledged over the run.
  std::optional<int64_t> min_writes;
  std::optional<int64_t> min_reads;
};

// engine = "raft": one Raft group of the real raft::Core with a key-value state machine,
// driven by simulated clients (simulations/raft/raft_sim.h). Nodes 0..voters-1 found the
// group; the other nodes start empty and can be added. Faults from `nemesis` are drawn at
// random from the run's seed every `nemesis_every` (0: none) until `quiet` before the end,
// when every fault is undone and the group must serve clients again.
struct RaftParams {
  int64_t voters = 3;
  int64_t clients = 3;
  int64_t keys = 3;
  double read_fraction = 0.5;
  Duration client_timeout = std::chrono::seconds(1);
  Duration think = std::chrono::milliseconds(20);  // a client waits [0, think] between ops
  Duration retry = std::chrono::milliseconds(20);  // and this long before asking again
  int64_t snapshot_every = 0;                      // entries applied between snapshots; 0: never
  int64_t snapshot_chunk = 1 << 20;                // InstallSnapshot chunk bytes
  LatencyDist disk = LatencyDist::fixed(Duration::zero());  // time for a write + sync
  Duration election_timeout_min = std::chrono::milliseconds(150);
  Duration election_timeout_max = std::chrono::milliseconds(300);
  Duration heartbeat_interval = std::chrono::milliseconds(30);
  Duration replication_timeout = std::chrono::milliseconds(90);
  bool pre_vote = true;
  bool check_quorum = true;
  // raft::Config::quiesce_after (0: off). With it on, a failure detector stands in for
  // gossip: every `detect_every`, each live node is told PeerDown for every node that is
  // down or cannot reach it.
  Duration quiesce_after{};
  Duration detect_every = std::chrono::milliseconds(500);
  Duration nemesis_every{};
  std::vector<std::string> nemesis;  // kill, partition, isolate_leader, loss, pause, membership, transfer, skew
  Duration quiet = std::chrono::seconds(3);
  // For proving the checks work: a crash wipes the node's disk, synced or not (a disk that
  // acknowledges fsync without writing). Safety checks are expected to fail.
  bool amnesia = false;
  // For proving the linearizability check works: every node answers gets from its own
  // machine at once, leader or not, without ReadIndex (the classic stale-read bug).
  bool stale_reads = false;
};

// engine = "apps" (simulations/apps/apps_sim.h): one app's Raft group of `voters` (nodes
// 0..voters-1) running the real AppState, its leader running scheduler::plan() each turn and
// pushing assignments, and every node running the real SupervisorCore over simulated
// processes. A deployer adds a release at each time in `deploys`.
struct AppsParams {
  int64_t voters = 3;
  int64_t web = 3;     // the formation every release's manifest asks for
  int64_t worker = 2;
  std::vector<Duration> deploys = {std::chrono::seconds(1)};
  std::vector<int64_t> crashing;  // 1-based deploy numbers whose processes crash
  Duration crash_after = std::chrono::seconds(2);  // a crashing process runs this long
  Duration turn = std::chrono::milliseconds(500);  // the leader's turn (AppService interval)
  Duration busy_turn = std::chrono::milliseconds(100);  // while the app is in flux
  Duration detection = std::chrono::seconds(5);  // unreachable this long: failed
  Duration prepare = std::chrono::milliseconds(200);  // PrepareRelease
  Duration start = std::chrono::milliseconds(300);    // spawn to pid
  Duration stop = std::chrono::seconds(1);            // SIGTERM to exit
  Duration stop_grace = std::chrono::seconds(10);
  Duration backoff_base = std::chrono::seconds(1);
  Duration backoff_max = std::chrono::seconds(30);
  Duration reassert_grace = std::chrono::seconds(60);
  // Checks: the formation runs again within `restore_within` of the last fault or deploy;
  // more than count + max_surge of a type run for no longer than `settle_within`.
  Duration restore_within = std::chrono::seconds(30);
  Duration settle_within = std::chrono::seconds(20);
  std::optional<int64_t> max_placements;  // instances ever placed (no placement thrashing)
  // For proving the fencing check works: a restarted supervisor forgets the terms it saw
  // (as if it did not persist them), so a stale leader's push can be accepted.
  bool forget_terms = false;
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
  // Every node boots at t=0 already knowing every other as alive (memberlist engine only):
  // a big cluster starts converged instead of replaying an N^2 join storm.
  bool warm_start = false;
  Duration tick_floor = std::chrono::milliseconds(1);

  RaftParams raft;  // engine = "raft" only

  LinkParams network;
  double bandwidth = 0;  // egress bytes/s of every node; 0: unlimited
  std::vector<FaultEvent> timeline;  // sorted by `at` (stable)
  Checks checks;
  AppsParams apps;  // engine = "apps" only

  // Checks the selectors against `nodes` (after a --nodes override).
  Status validate() const;
};

Result<Scenario> parse_scenario(std::string_view toml_text, std::string_view file);
Result<Scenario> load_scenario(const std::string& path);

std::string_view to_string(FaultEvent::Kind k);

}  // namespace shoal::sim
