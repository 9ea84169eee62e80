// raft/core.h
//
// Core: one member of one Raft group, as a deterministic state machine with no IO.
//
// The shell (the agent's host, the simulator, a test network) feeds it events and carries
// out the Actions each step returns:
//
//     Actions a = core.step(event, now);
//     store.write(a.persist, /*sync=*/a.must_sync);   // 1. durable first...
//     send(a.send_after_persist);                                  // 2. ...then these
//     send(a.send_now);                       // any time, even before step 1 completes
//     if (a.restore) state_machine.restore(*a.restore);            // 3. then apply, in order
//     state_machine.apply(a.apply);  serve(a.reads_ready);
//     core.step(Persisted{last entry written}, now);  core.step(Applied{...}, now);
//     wake me with Tick{} at a.wake_at
//
// Contract:
//  - Ordering: Actions of successive steps must be persisted in the order they were returned;
//    a message in send_after_persist may leave only once this Actions' persist and every
//    earlier one is durable. This is how "durable before acknowledged" (DESIGN.md) is kept:
//    votes and acknowledgements are only ever in send_after_persist.
//  - Persisted{p} tells the core that the entries it asked to write, up to p, are durable;
//    a leader counts its own log toward a quorum only up to there. Applied{i} tells it the
//    state machine has applied up to i (SnapshotTaken needs index <= applied).
//  - Deterministic: same state, same events, same `now`, same Rng seed => same Actions.
//    Never blocks, never throws on peer input: bad or stale messages are dropped (and logged
//    at debug level). Time only moves forward between calls.
//  - If reading the LogStore fails, the step's Actions are discarded and the core stops:
//    every later step returns that Status and does nothing (the group needs operator action).
//  - A new group: raft::bootstrap(store, voters) on each founding member before open().
//    A joining member opens an empty store; the leader sends it the first snapshot.
//  - Not thread-safe: call from one strand (per group) of the shell.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "base/rng.h"
#include "base/status.h"
#include "base/time.h"
#include "raft/config.h"
#include "raft/log_store.h"
#include "raft/log_view.h"
#include "raft/progress.h"
#include "raft/types.h"

namespace shoal::raft {

// ---------------------------------------------------------------------------------------
// Events

struct Tick {};                          // timers: due at Actions::wake_at
struct MessageIn { Message message; };   // from a peer (from the transport, unvalidated)
struct Propose { Bytes data; };          // leader only: append a normal entry
struct ReadIndex { uint64_t id = 0; };   // leader only: a linearizable read point for `id`
struct ChangeMembership { ConfigChange change; };  // leader only, one at a time
struct TransferLeadership { NodeId target; };      // leader only
struct Campaign {};  // start an election now (tests, and a single-member bootstrap)
struct Persisted { LogPosition last; };
struct Applied { Index index = 0; };
// The state machine made a snapshot of everything up to `index`: compact the log.
struct SnapshotTaken { Index index = 0; Bytes data; };
// The shell believes `node` is down (gossip declared it failed; its process refused a
// connection). A follower of that leader, quiet or not, stops honouring its lease and
// campaigns within a heartbeat interval instead of an election timeout.
struct PeerDown { NodeId node; };

using Event = std::variant<Tick, MessageIn, Propose, ReadIndex, ChangeMembership,
                           TransferLeadership, Campaign, Persisted, Applied, SnapshotTaken,
                           PeerDown>;

// ---------------------------------------------------------------------------------------
// Actions

struct ReadState {
  uint64_t id = 0;
  Index index = 0;  // serve the read once the state machine has applied this index
};

struct ReadFailure {
  uint64_t id = 0;
  Status status;  // unavailable: lost leadership before the read was confirmed
};

struct Actions {
  // Outcome of a command event (Propose, ReadIndex, ChangeMembership, TransferLeadership,
  // SnapshotTaken); ok for the others unless the core has stopped.
  Status status;
  std::optional<LogPosition> proposed;  // where a Propose / ChangeMembership landed

  LogWrite persist;                         // 1. write atomically, make durable...
  std::vector<Message> send_after_persist;  // 2. ...then send these
  std::vector<Message> send_now;            // no precondition

  std::optional<SnapshotWrite> restore;  // 3. load into the state machine, then
  std::vector<Entry> apply;              //    apply these committed entries, in order
  std::vector<ReadState> reads_ready;
  std::vector<ReadFailure> reads_failed;

  TimePoint wake_at = kTimeNever;  // step(Tick{}, t) is due at the latest at this time

  // Whether persist must be synced before send_after_persist may go. False when only the
  // commit index changed: a lost commit index is re-learned from the leader.
  bool must_sync = false;
};

enum class Role : uint8_t { follower, pre_candidate, candidate, leader };
const char* role_name(Role r);

struct PeerStatus {
  NodeId id;
  bool voter = false;
  Index match = 0;
  Index next = 0;
  ProgressState state = ProgressState::probe;
  bool recent_active = false;
};

struct CoreStatus {
  NodeId id;
  Role role = Role::follower;
  Term term = 0;
  NodeId leader;
  Index commit = 0;
  Index applied = 0;
  Index last_index = 0;
  Index snapshot_index = 0;
  ConfigState config;
  std::vector<PeerStatus> peers;  // leader only: each follower's replication state
};

class Core {
 public:
  // Opens the member `self` of the group whose state is in `store`. `applied` is the index
  // the state machine already holds (0 for an in-memory one that will be restored from the
  // store's snapshot by the shell). `store` is only read, and must outlive the core.
  static Result<std::unique_ptr<Core>> open(Config config, NodeId self, const LogStore& store,
                                            Rng rng, Index applied, TimePoint now);

  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // Handles one event that happened at `now`. See the contract above.
  [[nodiscard]] Actions step(const Event& event, TimePoint now);

  // Throws std::logic_error naming the broken invariant. Tests and the simulator call it
  // after every step; it also checks that term and commit never went backwards.
  void check_invariants() const;

  const NodeId& id() const { return self_; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  const NodeId& leader() const { return leader_; }
  Index commit_index() const { return commit_; }
  Index applied_index() const { return applied_; }
  Index last_index() const { return log_.last_index(); }
  const ConfigState& config() const { return config_; }
  HardState hard_state() const { return {term_, vote_, commit_}; }
  // Leader only: a follower's replication state (so the caller can promote a caught-up
  // learner), or nullopt.
  std::optional<PeerStatus> peer(const NodeId& id) const;
  CoreStatus status() const;
  const Status& stopped() const { return stopped_; }
  // The group is quiet (Config::quiesce_after): no timers run here until it has work.
  bool quiesced() const { return quiesced_; }
  const LogView& log() const { return log_; }

 private:
  Core(Config config, NodeId self, const LogStore& store, Rng rng);
  Status load(Index applied, TimePoint now);

  // ---- core.cc: dispatch, roles and elections (any role) ----
  void on_tick();
  void on_message(const Message& m);
  void on_request_vote(const RequestVote& m);
  void on_vote_response(const RequestVoteResponse& m);
  void campaign(bool pre_vote, bool transfer);
  void become_follower(Term term, const NodeId& leader);
  void become_leader();
  void reset_election_timer();
  bool in_leader_lease() const;
  void leader_down();  // PeerDown of our leader
  void wake(const Event& cause);
  void note_activity() { quiesce_deadline_ = now_ + cfg_.quiesce_after; }
  size_t quorum() const { return config_.voters.size() / 2 + 1; }
  void send(Message m);
  void emit_applies();
  TimePoint next_wake() const;

  // ---- follower.cc: what a follower does with the leader's messages ----
  void on_append_entries(const AppendEntries& m);
  void on_heartbeat(const Heartbeat& m);
  void on_install_snapshot(const InstallSnapshot& m);
  void heard_from_leader(const NodeId& leader);
  void append_to_log(std::vector<Entry> entries);
  void truncate_log(Index from);
  void recompute_config();

  // ---- replication.cc: the leader side ----
  void on_append_response(const AppendEntriesResponse& m);
  void on_heartbeat_response(const HeartbeatResponse& m);
  void on_snapshot_response(const InstallSnapshotResponse& m);
  bool send_append(const NodeId& to, Progress& pr);
  void send_appends(const NodeId& to, Progress& pr);  // pipeline while not paused
  void broadcast_appends();
  void broadcast_heartbeats();
  void send_snapshot_chunk(const NodeId& to, Progress& pr);
  void leader_tick();
  bool can_quiesce() const;
  bool maybe_commit();
  void sync_progress_with_config();
  void check_reads();
  void fail_reads(const Status& why);
  Status propose(EntryType type, Bytes data);
  Status change_membership(const ConfigChange& change);
  Status transfer_leadership(const NodeId& target);
  Status take_snapshot(const SnapshotTaken& s);
  ConfigState config_at(Index index) const;

  Config cfg_;
  NodeId self_;
  LogView log_;
  const LogStore* store_;
  Rng rng_;

  // Durable (HardState).
  Term term_ = 0;
  NodeId vote_;
  Index commit_ = 0;

  Role role_ = Role::follower;
  NodeId leader_;
  Index next_apply_ = 1;  // next committed entry to hand to the state machine
  Index applied_ = 0;     // what the state machine reported applied

  // Membership: the snapshot's configuration, then each config entry in the log above it.
  ConfigState base_config_;
  std::vector<std::pair<Index, ConfigState>> log_configs_;
  ConfigState config_;  // the latest of the above: in force now
  Index config_index_ = 0;

  // Latest snapshot, kept to send to followers that fell behind the log's start.
  SnapshotWrite snapshot_;
  // A snapshot being received from the leader.
  struct Incoming {
    SnapshotMeta meta;
    NodeId from;
    Term term = 0;
    Bytes data;
  };
  std::optional<Incoming> incoming_;

  // Timers.
  TimePoint now_{};
  TimePoint election_deadline_ = kTimeNever;
  TimePoint heartbeat_deadline_ = kTimeNever;
  TimePoint quorum_deadline_ = kTimeNever;
  std::optional<TimePoint> leader_contact_;  // last time we heard from (or were) a leader

  // Quiescence. A quiet leader sends nothing and a quiet follower keeps no election timer;
  // both treat the leader as alive (leader stickiness) until the group has work again or
  // the shell reports the leader down.
  bool quiesced_ = false;
  // The shell reported our leader down (PeerDown) and no leader was heard from since:
  // elections, split ones included, are retried within a heartbeat interval.
  bool leader_down_ = false;
  TimePoint quiesce_deadline_ = kTimeNever;  // leader: quiet from here if nothing happens

  // Elections.
  std::map<NodeId, bool> votes_;

  // Leader state.
  std::map<NodeId, Progress> progress_;
  Index term_start_index_ = 0;  // index of this leader's no-op entry
  NodeId transfer_target_;
  TimePoint transfer_deadline_ = kTimeNever;
  struct PendingRead {
    uint64_t id;
    Index index;
    uint64_t seq;
  };
  std::deque<PendingRead> pending_reads_;
  uint64_t read_seq_ = 0;

  Actions* out_ = nullptr;  // the step in progress
  Status stopped_;

  // For check_invariants' "never goes backwards" checks.
  mutable Term seen_term_ = 0;
  mutable Index seen_commit_ = 0;
  mutable NodeId seen_leader_;
  mutable NodeId seen_vote_;
};

}  // namespace shoal::raft
