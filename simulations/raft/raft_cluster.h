// simulations/raft/raft_cluster.h
//
// RaftCluster: the engine behind run_raft_scenario() (raft_sim.h). One Raft group of the
// shipping raft::Core, each member with a KvMachine and a DurableLogStore on its node's
// DurableStore, plus simulated clients, all under one virtual clock and the simulator's
// NetworkModel. Exposed for the simulator's own files and tests only.
//
// How the shell around each core behaves (what the multi-group host will do for real):
//  - Actions are carried out in the contract's order. Writing and syncing takes a draw from
//    `raft.disk`; the disk part of successive Actions completes in order, and the messages
//    that wait for it leave only then. A crash loses the queued disk work and every unsynced
//    write (DurableStore::crash), and a restart opens the core on what is left.
//  - Client requests go to the node a client believes leads. A follower answers "not leader"
//    with its leader hint. A put is proposed and acknowledged once the entry at the index it
//    landed on is applied with the term it was proposed in; a get goes through ReadIndex and
//    is answered once the machine has applied the read index. Clients retry (same command,
//    same sequence number: the machine deduplicates) until their timeout, after which a put's
//    outcome is unknown and a get is forgotten.
//
// Checks, as the run goes: Core::check_invariants() after every step, election safety (one
// leader per term), state machine safety (one entry per index over every apply on every
// node), leader completeness (a new leader holds every entry applied anywhere). At the end:
// log matching over every pair of live members, linearizability of the client history
// (tests/lincheck), and the scenario's liveness minimums. The first violation stops the run.
//
// Deterministic as the gossip engine is (simulator.h). Single-threaded; one engine runs once.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "base/rng.h"
#include "raft/core.h"
#include "simulations/durable_store.h"
#include "simulations/network_model.h"
#include "simulations/node_clock.h"
#include "simulations/raft/durable_log_store.h"
#include "simulations/raft/kv_machine.h"
#include "simulations/scenario.h"
#include "simulations/simulator.h"
#include "tests/lincheck/kv_linearizability.h"

namespace shoal::sim {

class RaftCluster {
 public:
  RaftCluster(const Scenario& scenario, const RunOptions& options);
  ~RaftCluster();

  void run();
  RunReport& report() { return report_; }
  const std::vector<lincheck::KvOp>& history() const { return history_; }

 private:
  // ---- what travels ----
  struct ClientRequest {
    uint32_t client = 0;
    uint64_t req = 0;  // the client's attempt number: stale replies are ignored
    bool put = false;
    KvCommand cmd;     // put: the command; get: the key in cmd.key
  };
  struct ClientReply {
    uint64_t req = 0;
    enum class Kind : uint8_t { ok, not_leader, failed } kind = Kind::failed;
    std::string value;  // get: what was read
    std::string leader;
  };
  using Payload = std::variant<raft::Message, ClientRequest, ClientReply>;

  enum class Kind : uint8_t {
    wake, message, disk, client_next, client_timeout, client_retry, fault, nemesis, undo,
    reconcile, sample, quiet, detect
  };
  struct Ev {
    TimePoint at{};
    uint64_t seq = 0;
    Kind kind = Kind::wake;
    uint32_t node = 0;  // node or client index (endpoint for messages)
    uint32_t gen = 0;   // wake / disk: the node's generation; message: the sender
    uint64_t id = 0;    // message: 1 once held back by a slow node
    std::shared_ptr<Payload> payload;
  };
  struct Later {
    bool operator()(const Ev& a, const Ev& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };

  struct WaitingWrite {
    raft::Term term = 0;
    uint32_t client = 0;
    uint64_t req = 0;
  };
  struct WaitingRead {
    uint32_t client = 0;
    uint64_t req = 0;
    std::string key;
    raft::Index index = 0;  // once confirmed
  };
  struct Node {
    raft::NodeId id;
    DurableStore disk;
    std::unique_ptr<DurableLogStore> store;
    std::unique_ptr<raft::Core> core;
    KvMachine kv;
    NodeClock clock;
    bool up = false;
    bool founder = false;
    uint32_t gen = 0;
    TimePoint wake_at = kTimeNever;
    Duration slow{};
    TimePoint frozen_until{};
    std::deque<std::pair<TimePoint, raft::Actions>> disk_queue;
    std::map<raft::Index, WaitingWrite> writes;      // by the index the proposal landed on
    std::map<uint64_t, WaitingRead> reads;           // by ReadIndex id, until confirmed
    std::vector<WaitingRead> confirmed_reads;        // waiting for the machine to catch up
    uint64_t next_read_id = 1;
    uint64_t steps = 0;
  };
  struct Client {
    uint64_t seq = 0;         // last command sequence number used
    uint64_t req = 0;         // current attempt
    bool busy = false;
    bool put = false;
    KvCommand cmd;
    size_t op = 0;            // index into history_
    TimePoint deadline{};
    uint32_t target = 0;      // the node it will ask
  };

  // ---- loop (raft_cluster.cc) ----
  void push(Ev e);
  void dispatch(Ev& e);
  bool hold_back(Ev& e, Node& n);
  void start_node(size_t i);
  void crash_node(size_t i);
  struct StepResult {
    Status status;
    std::optional<raft::LogPosition> proposed;
  };
  StepResult step(size_t i, const raft::Event& ev);
  void handle(size_t i, raft::Actions a);
  void complete(size_t i, raft::Actions a);
  void send(size_t from, size_t to, Payload p, size_t bytes);
  void on_message(size_t to, raft::Message m);
  TimePoint local(size_t i) const { return nodes_[i].clock.to_local(now_); }
  size_t index_of(const raft::NodeId& id) const;
  std::optional<size_t> leader() const;
  void fail(const std::string& check, const std::string& detail);
  void mix(uint64_t v);

  // ---- clients and the shell's request handling (raft_clients.cc) ----
  void client_next(uint32_t c);
  void client_send(uint32_t c);
  void client_reply(uint32_t c, const ClientReply& r);
  void client_timeout(uint32_t c, uint64_t req);
  void on_request(size_t i, const ClientRequest& r);
  void reply(size_t i, uint32_t client, ClientReply r);
  void after_apply(size_t i);  // answer writes and reads the machine now covers

  // ---- faults, nemesis, membership (raft_faults.cc) ----
  void apply_fault(const FaultEvent& f);
  void nemesis();
  void undo(uint64_t id);
  void reconcile();
  void begin_quiet();
  std::vector<size_t> resolve(const NodeSelector& sel, const std::vector<size_t>& exclude);
  NodeSet to_set(const std::vector<size_t>& nodes) const;
  std::vector<size_t> members(bool voters_only) const;

  // ---- checks and summary (raft_checks.cc) ----
  void check_step(size_t i);
  void check_apply(size_t i, const raft::Entry& e);
  void check_log_matching();
  void finish();
  void take_sample();
  void detect_failures();

  const Scenario& sc_;
  const RaftParams& p_;
  RunOptions opt_;
  size_t n_;
  Rng rng_;      // node seeds, clients, fault targets
  Rng net_rng_;  // every network and disk draw
  raft::Config config_;
  NetworkModel net_;
  TimePoint now_{};
  TimePoint end_{};
  TimePoint quiet_at_{};
  bool quiet_ = false;
  bool stopped_ = false;
  std::vector<Ev> heap_;
  uint64_t next_seq_ = 0;
  std::vector<Node> nodes_;
  std::vector<Client> clients_;
  std::vector<uint8_t> abandoned_;             // per history op: a get nobody answered
  std::optional<WaitingWrite> proposing_;      // the client request being proposed now
  std::vector<TimePoint> arrivals_;

  // Operator's intent: who should be a voter (reconcile() moves the group there).
  std::set<size_t> want_voters_;
  std::map<uint64_t, std::function<void()>> undos_;
  uint64_t next_undo_ = 1;

  // Safety records.
  std::map<raft::Term, size_t> leaders_;
  std::map<raft::Index, std::pair<raft::Term, uint64_t>> applied_;  // index -> (term, hash)
  std::map<raft::Index, std::pair<raft::Term, raft::Term>> committed_;  // index -> (term, committed in)
  std::vector<lincheck::KvOp> history_;

  // Counters for the summary.
  uint64_t elections_ = 0, crashes_ = 0, restarts_ = 0, snapshots_ = 0, snapshots_refused_ = 0;
  uint64_t installs_ = 0, config_changes_ = 0, transfers_ = 0, peer_downs_ = 0;
  uint64_t quiesces_ = 0;
  uint64_t writes_ok_ = 0, writes_unknown_ = 0, reads_ok_ = 0, reads_abandoned_ = 0;
  uint64_t writes_after_quiet_ = 0, past_wakeups_ = 0;
  RunReport report_;
};

}  // namespace shoal::sim
