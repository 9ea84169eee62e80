// raft/host.h
//
// Host: many Raft groups of one process over one LevelDB. Each group is a sans-IO Core,
// a LevelDbLogStore (its own key prefix) and a StateMachine; the host routes messages by
// group, runs the groups' timers on a coarse shared grid, batches everything the groups
// write in one loop turn into one WriteBatch, and gathers what they send into one batch
// per peer. It owns no socket and reads no clock: the shell (node/raft_service.h, tests)
// passes `now` in and carries the returned sends to the network.
//
// One loop turn of the shell:
//     host.receive(peer, envelopes, now);  host.propose(...);  host.tick(now); ...
//     auto out = host.flush(now);   // one WriteBatch, synced if any group needs it, then
//                                   // the messages that waited for it, applies, completions
//     send out->sends (one frame per peer);  report out->completions;  wake at out->wake_at
//
// Contract:
//  - Durable before acknowledged: nothing a core put in send_after_persist leaves flush()
//    before the WriteBatch holding its step's writes (and every earlier one) is synced.
//  - Timers: a group's wake-up is rounded up to the next multiple of Options::tick, so the
//    leaders' heartbeats of all groups fall on the same turns and leave as one frame per
//    peer. A group with no due timer costs nothing per turn (followers of an idle leader
//    only wake on its heartbeats).
//  - Bad input changes nothing: messages for unknown groups, from the host itself, or in
//    frames that do not decode are dropped and counted (Counters); stale-term messages are
//    counted and handed to the core, which answers deposed leaders with its term.
//  - An error of the database is fatal for the host: flush() returns it and every later
//    call fails; the shell must stop (the groups' cores could otherwise ack lost writes).
//  - Not thread-safe: one loop thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/rng.h"
#include "base/status.h"
#include "base/time.h"
#include "raft/config.h"
#include "raft/core.h"
#include "raft/leveldb_log_store.h"
#include "raft/state_machine.h"
#include "raft/wire.h"

namespace leveldb {
class WriteBatch;
}

namespace shoal::raft {

struct HostOptions {
  NodeId self;
  Config config;
  // Timer grid: wake-ups round up to it (etcd's raft ticks at its heartbeat interval too).
  Duration tick = std::chrono::milliseconds(100);
  // Ask a group's state machine for a snapshot after this many applied entries, once the
  // entries applied since the last snapshot are also at least as many bytes as that
  // snapshot. A snapshot costs the state machine's whole size (serialised and written on
  // the loop, which stalls every group of the node meanwhile); tying it to the bytes
  // written keeps its cost per written byte bounded, however large the state grows, and
  // the log between snapshots at most about the state's size.
  Index snapshot_every = 10000;
  size_t max_groups = 100000;
};

struct HostCounters {
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t batches_out = 0;
  uint64_t rejected_unknown_group = 0;
  uint64_t rejected_from_self = 0;
  uint64_t stale_term = 0;  // handed to the core, which answers or drops them
  uint64_t writes = 0;      // WriteBatches written
  uint64_t syncs = 0;       // ... of which synced
  uint64_t snapshots_taken = 0;
  uint64_t snapshots_installed = 0;
};

// The outcome of a propose() or read() the shell asked for, by the id it gave.
struct Completion {
  uint64_t id = 0;
  GroupId group = 0;
  Status status;
  Index index = 0;  // where the write landed / the read point
  Bytes result;     // the state machine's answer to a write
  NodeId leader;    // when status is unavailable: who leads, if known
};

struct HostOutput {
  std::map<NodeId, std::vector<Envelope>> sends;
  std::vector<Completion> completions;
  TimePoint wake_at = kTimeNever;
};

struct GroupStatus {
  GroupId group = 0;
  CoreStatus core;
  SnapshotMeta snapshot;  // the latest snapshot held in the store
  std::vector<NodeId> promoting;  // learners to be made voters once caught up
  Status stopped;
  uint64_t proposals = 0;  // writes proposed here since the group was opened
};

class Host {
 public:
  // Opens every group recorded in `db`; each group's state machine is restored from its
  // snapshot and replays its committed log.
  static Result<std::unique_ptr<Host>> open(HostOptions options, std::shared_ptr<LevelDb> db,
                                            StateMachineFactory factory, uint64_t seed,
                                            TimePoint now);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // A founding member of a new group (`voters` includes self, the same list on every
  // founder) or, with `voters` empty, an empty member that will be added by the leader.
  Status create_group(GroupId group, std::vector<NodeId> voters, TimePoint now);
  // Forgets the group and deletes its records (in the next flush's WriteBatch).
  Status delete_group(GroupId group);
  bool has_group(GroupId group) const { return groups_.count(group) != 0; }
  std::vector<GroupId> groups() const;

  // Messages from `from` (already decoded; their from/to are the connection's ends).
  void receive(const NodeId& from, std::vector<Envelope> envelopes, TimePoint now);
  // Counts a frame from `from` that did not decode.
  void count_bad_frame() { ++bad_frames_; }

  // A write: Completion{id} once it is applied here (ok + the state machine's result), or
  // fails (not the leader: unavailable naming the leader; lost to a new leader).
  void propose(GroupId group, Bytes data, uint64_t id, TimePoint now);
  // A linearizable read point: Completion{id} once the local state machine may be read.
  void read(GroupId group, uint64_t id, TimePoint now);
  // Leader only. Adding a voter goes through learner: the node is added as a learner and
  // promoted once its match index reaches the commit index.
  Status add_member(GroupId group, const NodeId& node, bool voter, TimePoint now);
  Status remove_member(GroupId group, const NodeId& node, TimePoint now);
  Status transfer(GroupId group, const NodeId& target, TimePoint now);
  // Runs due timers.
  void tick(TimePoint now);
  // The shell believes `node` is down (gossip failed it; its process refused a connection):
  // tells every group it leads, whose followers then campaign within a heartbeat interval
  // (Core::leader_down; a quiet follower wakes first).
  void peer_down(const NodeId& node, TimePoint now);

  // Ends the turn; see the contract above.
  Result<HostOutput> flush(TimePoint now);

  Result<GroupStatus> status(GroupId group) const;
  const StateMachine* machine(GroupId group) const;
  HostCounters counters() const;
  uint64_t bad_frames() const { return bad_frames_; }
  const NodeId& self() const { return opts_.self; }

 private:
  struct Group;
  Host(HostOptions options, std::shared_ptr<LevelDb> db, StateMachineFactory factory,
       uint64_t seed);
  Result<std::unique_ptr<Group>> open_group(GroupId id, TimePoint now);
  Group* find(GroupId id);
  void step(Group& g, const Event& ev, TimePoint now);
  void handle(Group& g, Actions a, TimePoint now);
  void schedule(Group& g, TimePoint wake_at, TimePoint now);
  void after_write(Group& g, TimePoint now);
  void maybe_promote(Group& g, TimePoint now);
  void maybe_snapshot(Group& g, TimePoint now);
  void complete(Completion c) { out_.completions.push_back(std::move(c)); }

  HostOptions opts_;
  std::shared_ptr<LevelDb> db_;
  StateMachineFactory factory_;
  Rng rng_;
  std::map<GroupId, std::unique_ptr<Group>> groups_;
  std::set<std::pair<TimePoint, GroupId>> timers_;
  std::vector<GroupId> touched_;  // groups with work waiting for the turn's write
  std::set<GroupId> deleting_;    // deleted this turn: not re-creatable until flushed
  std::unique_ptr<leveldb::WriteBatch> wb_;
  bool wb_dirty_ = false;
  bool wb_sync_ = false;
  HostOutput out_;
  HostCounters counters_;
  uint64_t bad_frames_ = 0;
  Status failed_;
};

}  // namespace shoal::raft
