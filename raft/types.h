// raft/types.h
//
// The vocabulary of the Raft core: ids, log entries, the durable hard state, cluster
// configurations, snapshot metadata and the messages peers exchange.
//
// Contract:
//  - Plain values: copyable, no invariants enforced by the types themselves. The core
//    validates what it receives from peers (a message from a stranger or with a
//    nonsensical range is dropped, never trusted) and never throws on it.
//  - Index 0 / term 0 mean "nothing": the first real entry has index >= 1. A group is
//    bootstrapped with a snapshot at index 1, term 0 that holds the first configuration
//    (see raft/core.h), so every member and every newcomer agrees on entry 1.
//  - Every message carries the sender's term, its id and the receiver's id (MessageHeader).
//    Wire encoding is not here: the transport (later work) owns it.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.h"

namespace shoal::raft {

using NodeId = std::string;
using Term = uint64_t;
using Index = uint64_t;

enum class EntryType : uint8_t {
  normal = 0,         // data for the state machine
  config_change = 1,  // data is an encoded ConfigChange (raft/codec.h)
  noop = 2,           // appended by each new leader so that it can commit in its term
};

struct Entry {
  Term term = 0;
  Index index = 0;
  EntryType type = EntryType::normal;
  Bytes data;

  bool operator==(const Entry&) const = default;
};

// A point in the log; ordered by (term, index), which is the "up-to-date" order of §5.4.1.
struct LogPosition {
  Term term = 0;
  Index index = 0;

  auto operator<=>(const LogPosition&) const = default;
};

// What must survive a crash besides the log: the current term, who we voted for in it,
// and the commit index (a hint that saves re-deriving it; losing it is safe).
struct HardState {
  Term term = 0;
  NodeId vote;  // empty: no vote in `term`
  Index commit = 0;

  bool operator==(const HardState&) const = default;
};

// Membership. Voters elect and form quorums; learners only receive the log.
// A node is in at most one of the two lists.
struct ConfigState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;

  bool is_voter(const NodeId& id) const;
  bool is_learner(const NodeId& id) const;
  bool contains(const NodeId& id) const { return is_voter(id) || is_learner(id); }
  bool operator==(const ConfigState&) const = default;
};

// One single-server membership change, carried by an EntryType::config_change entry.
// It takes effect on each server as soon as the entry is in that server's log (not when it
// commits), as in the Raft dissertation §4.1; a leader allows one uncommitted change at a time.
enum class ConfigChangeType : uint8_t {
  add_voter = 0,    // a new voter, or promotion of a learner
  add_learner = 1,  // a new learner, or demotion of a voter
  remove = 2,
};

struct ConfigChange {
  ConfigChangeType type = ConfigChangeType::add_learner;
  NodeId node;

  bool operator==(const ConfigChange&) const = default;
};

// Applies `change` to `config`; changes that change nothing leave it as is.
ConfigState apply_config_change(ConfigState config, const ConfigChange& change);

// Describes the state machine state that replaces the log prefix up to `index`.
struct SnapshotMeta {
  Index index = 0;
  Term term = 0;
  ConfigState config;  // membership as of `index`

  bool operator==(const SnapshotMeta&) const = default;
};

// ---------------------------------------------------------------------------------------
// Messages

struct MessageHeader {
  Term term = 0;
  NodeId from;
  NodeId to;
};

// A vote request. With pre_vote, `term` is the term the sender *would* campaign in; the
// receiver neither changes its term nor records a vote (Raft dissertation §9.6).
// `transfer` marks an election started by TimeoutNow: receivers skip leader stickiness.
struct RequestVote : MessageHeader {
  LogPosition last;  // the candidate's last log entry
  bool pre_vote = false;
  bool transfer = false;
};

struct RequestVoteResponse : MessageHeader {
  bool granted = false;
  bool pre_vote = false;
};

struct AppendEntries : MessageHeader {
  LogPosition prev;  // entry immediately before `entries`
  std::vector<Entry> entries;
  Index commit = 0;  // the leader's commit index
};

// On success `match` is the last index known to equal the leader's log (prev + entries).
// On rejection, `rejected` is the prev.index that did not match, and (hint_index, hint_term)
// is the last entry of ours whose term is <= the leader's prev.term: the leader can skip
// every index above the last entry of its own with term <= hint_term (fast backtracking).
struct AppendEntriesResponse : MessageHeader {
  bool success = false;
  Index match = 0;
  Index rejected = 0;
  Index hint_index = 0;
  Term hint_term = 0;
};

// Leader liveness, commit propagation and ReadIndex confirmation. `read_seq` is an opaque
// counter the follower echoes: an echo of s proves the sender was leader when s was issued.
// `commit` is min(leader commit, follower match), so it never points past verified entries.
// `quiesce`: the group is idle and every member caught up; no heartbeats follow until the
// group has work again (Config::quiesce_after).
struct Heartbeat : MessageHeader {
  Index commit = 0;
  uint64_t read_seq = 0;
  bool quiesce = false;
};

struct HeartbeatResponse : MessageHeader {
  uint64_t read_seq = 0;
  Index last_index = 0;  // lets the leader notice a follower that needs appends
};

// One chunk of a snapshot. Chunks are sent one at a time, at increasing `offset`; the data
// is complete when `done`. `total_bytes` lets the receiver bound its buffer.
struct InstallSnapshot : MessageHeader {
  SnapshotMeta meta;
  uint64_t offset = 0;
  uint64_t total_bytes = 0;
  Bytes chunk;
  bool done = false;
};

// `next_offset`: the byte the receiver expects next (0 after a restart or a new snapshot).
// `installed`: the receiver now holds everything up to meta.index (installed, or had it).
struct InstallSnapshotResponse : MessageHeader {
  Index snapshot_index = 0;
  uint64_t next_offset = 0;
  bool installed = false;
};

// Leadership transfer: the receiver campaigns at once, skipping pre-vote (dissertation §3.10).
struct TimeoutNow : MessageHeader {};

using Message = std::variant<RequestVote, RequestVoteResponse, AppendEntries,
                             AppendEntriesResponse, Heartbeat, HeartbeatResponse,
                             InstallSnapshot, InstallSnapshotResponse, TimeoutNow>;

const MessageHeader& header(const Message& m);
MessageHeader& header(Message& m);
// A short name for logs and test transcripts: "AppendEntries", ...
const char* message_name(const Message& m);
// One line with every field that matters, for logs and transcripts:
// "a->b AppendEntries t1 prev=1/2 entries=[1/3] commit=2".
std::string describe(const Message& m);

}  // namespace shoal::raft
