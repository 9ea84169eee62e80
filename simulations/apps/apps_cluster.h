// simulations/apps/apps_cluster.h
//
// AppsCluster: the engine behind run_apps_scenario() (apps_sim.h). One app, as Shoal runs
// it: a Raft group of the shipping raft::Core on nodes 0..voters-1 whose state machine is
// the real node::apps::AppState; on whichever member believes it leads, the app leader's
// turn (a re-implementation of AppService::lead_app, node/apps/app_leader.cc, over the same
// core calls: scheduler::plan(), the AppState command builders, the assignment and report
// shapes); and on every node the real supervisor::SupervisorCore over simulated processes.
// Exposed for the simulator's own files and tests only.
//
// What stands in for what (and what the real agent does that this does not):
//  - Liveness: not the gossip engine but a failure detector per observer: node j is failed
//    in i's view once it has been down or cut off from i for `apps.detection` (sampled every
//    100 ms). No `left`, no draining, no memory figures (memory_free_mb = -1).
//  - The disk of the Raft log is a MemoryLogStore that survives a crash whole (writes are
//    synced at once): this engine tests the apps layer; simulations/raft/ tests the log.
//  - A turn proposes the plan's commands in one go and plans again only once they applied
//    (the real leader waits for each commit in turn); it then pushes every node its whole
//    assignment as a message and commits each node's answer (report_differs, `gone` lines)
//    when it arrives. Pushes and answers cross the faulty network; a lost one is repaired
//    by the next turn, as in the real leader. Not modelled: the HTTP timeout, artifact
//    peers (PrepareRelease always succeeds after `apps.prepare`), health checks, the group's
//    replica replacement, the catalog, the supervisor's own change reports.
//  - A supervisor persists its records, terms and assignments whenever CoreActions::persist
//    says so; a crash kills the node's processes, and the restarted node's supervisor is
//    restore()d from what it persisted (every process found dead).
//
// Checks: see apps_checks.cc and docs/simulator.md ("Apps"): formation restored, no instance
// twice, fencing, acknowledged releases kept, release numbers never go back, raft core
// invariants and SupervisorCore::check_invariants() after every step.
//
// Deterministic (one Rng root, no wall clock). Single-threaded; one engine runs once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "base/rng.h"
#include "node/apps/app_state.h"
#include "node/apps/scheduler.h"
#include "node/supervisor/supervisor_core.h"
#include "raft/core.h"
#include "raft/memory_log_store.h"
#include "simulations/network_model.h"
#include "simulations/scenario.h"
#include "simulations/simulator.h"

namespace shoal::sim {

class AppsCluster {
 public:
  AppsCluster(const Scenario& scenario, const RunOptions& options);
  ~AppsCluster();

  void run();
  RunReport& report() { return report_; }

 private:
  using AppState = node::apps::AppState;
  using InstanceKey = node::supervisor::InstanceKey;

  // ---- what travels ----
  struct AssignMsg {
    node::supervisor::Assignment assignment;
  };
  struct ReportMsg {
    raft::Term term = 0;
    bool fenced = false;
    size_t listed = 0;  // instances the assignment named
    std::vector<node::apps::InstanceReport> lines;
  };
  using Payload = std::variant<raft::Message, AssignMsg, ReportMsg>;

  enum class Kind : uint8_t { wake, message, sup_wake, proc, fault, turn, deploy, observe, thaw };
  enum class ProcEvent : uint8_t { prepared, started, exited };
  struct Ev {
    TimePoint at{};
    uint64_t seq = 0;
    Kind kind = Kind::wake;
    uint32_t node = 0;
    uint32_t gen = 0;  // the node's generation (wake, sup_wake, proc); message: the sender
    uint64_t id = 0;   // fault / deploy index; proc: the process incarnation
    std::shared_ptr<Payload> payload;
    // proc events
    ProcEvent what = ProcEvent::prepared;
    InstanceKey key;
    int64_t release = 0;
    std::string digest;
    std::string why;
  };
  struct Later {
    bool operator()(const Ev& a, const Ev& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };

  struct Proc {
    uint64_t inc = 0;
    int64_t release = 0;
    bool started = false;   // the shim reported its pid
    bool stopping = false;  // SIGTERM sent
  };
  struct Saved {  // what the supervisor persisted
    std::map<std::string, std::vector<node::supervisor::InstanceRecord>> records;  // by app
    std::map<std::string, node::supervisor::Assignment> assignments;
    std::map<uint64_t, uint64_t> terms;
  };
  struct Deploy {
    size_t k = 0;  // 0-based deploy number
    raft::Term term = 0;
  };
  struct LeaderState {  // one node's app-leader loop, reset when its term changes
    raft::Term term = 0;
    raft::Index outstanding = 0;  // the last index this turn's commands landed on
    std::set<std::string> pushed;
    TimePoint next_turn{};
  };
  struct Node {
    std::string id;
    bool voter = false;
    bool up = false;
    uint32_t gen = 0;
    // Raft replica (voters only).
    std::unique_ptr<raft::MemoryLogStore> store;
    std::unique_ptr<raft::Core> core;
    AppState app;
    TimePoint wake_at = kTimeNever;
    std::map<raft::Index, Deploy> deploys;  // waiting proposals of the deployer
    LeaderState leader;
    uint64_t last_version = 0;  // the machine's current release, for "never goes back"
    // Supervisor.
    std::unique_ptr<node::supervisor::SupervisorCore> sup;
    Saved saved;
    std::map<InstanceKey, Proc> procs;  // live processes
    TimePoint sup_wake_at = kTimeNever;
    uint64_t max_term = 0;  // highest group term this node ever accepted (ghost, survives crashes)
    TimePoint frozen_until{};  // paused: every input waits until then
  };

  // ---- loop, raft shell (apps_cluster.cc) ----
  void push(Ev e);
  void dispatch(Ev& e);
  void start_node(size_t i);
  void crash_node(size_t i);
  raft::Actions step(size_t i, const raft::Event& ev);
  void handle(size_t i, raft::Actions a);
  void send(size_t from, size_t to, Payload p, size_t bytes);
  void apply_fault(const FaultEvent& f);
  std::vector<size_t> resolve(const NodeSelector& sel, const std::vector<size_t>& exclude);
  size_t index_of(const std::string& id) const;
  std::optional<size_t> leader() const;
  void fail(const std::string& check, const std::string& detail);
  void mix(uint64_t v);
  int64_t wall_ms() const;

  // ---- the app leader and the deployer (apps_leader.cc) ----
  void turn(size_t i);
  void on_report(size_t i, size_t from, const ReportMsg& r);
  node::supervisor::Assignment assignment_for(size_t i, const std::string& node,
                                              const std::vector<const node::apps::Instance*>& list);
  std::optional<raft::LogPosition> propose(size_t i, Bytes command);
  bool failed_in_view(size_t observer, size_t subject) const;
  void deploy(size_t k, uint32_t token);  // token: the attempt this event belongs to
  void after_apply(size_t i, const raft::Entry& e, const Bytes& result);

  // ---- supervisors and processes (apps_nodes.cc) ----
  void on_assign(size_t i, size_t from, const AssignMsg& m);
  void sup_handle(size_t i, node::supervisor::CoreActions a);
  void on_proc(Ev& e);
  void start_supervisor(size_t i);

  // ---- checks and summary (apps_checks.cc) ----
  void observe();
  void finish();
  const AppState* truth() const;  // the state of the live member that applied the most

  const Scenario& sc_;
  const AppsParams& p_;
  RunOptions opt_;
  size_t n_;
  Rng rng_;
  Rng net_rng_;
  raft::Config config_;
  NetworkModel net_;
  TimePoint now_{};
  TimePoint end_{};
  bool stopped_ = false;
  std::vector<Ev> heap_;
  uint64_t next_seq_ = 0;
  std::vector<Node> nodes_;
  std::vector<TimePoint> arrivals_;
  uint64_t next_inc_ = 1;
  std::set<std::string> crashing_digests_;
  std::vector<std::vector<TimePoint>> unreachable_since_;  // [observer][subject]; kTimeNever: reachable

  // Deployer: per deploy, whether acknowledged and as which release.
  std::vector<std::optional<uint64_t>> acked_;
  std::vector<uint64_t> deploy_attempts_;

  // Observer.
  TimePoint settle_from_{};          // the last fault, heal, restart or acknowledged deploy
  std::optional<TimePoint> formed_since_;  // the formation has run since (at every look)
  bool judged_ = false;                   // the window after settle_from_ has been judged
  Duration worst_restore_{};
  std::map<std::string, TimePoint> excess_since_;  // per type
  Duration worst_excess_{};
  bool formation_ok_at_end_ = false;
  bool ever_formed_ = false;
  int64_t min_serving_ = INT64_MAX;  // processes started and not stopping, once formed

  // Counters.
  uint64_t places_ = 0, unplaces_ = 0, removes_ = 0, reports_ = 0, lost_marks_ = 0;
  uint64_t leader_kills_ = 0, pushes_ = 0, fenced_ = 0, turns_ = 0, elections_ = 0, crashes_ = 0, restarts_ = 0;
  uint64_t proc_starts_ = 0, proc_crashes_ = 0, proc_stops_ = 0, proc_kills_ = 0;
  RunReport report_;
};

}  // namespace shoal::sim
