// gossip/events.h
//
// What the gossip core asks its shell to do (Actions) and tells it (member events).
// The shell drains them with Serf::take_actions() after every call into the core and
// carries them out in order.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/time.h"
#include "gossip/address.h"
#include "gossip/messages.h"

namespace shoal::gossip {

// Serf's view of a member.
enum class MemberStatus : uint8_t { none, alive, leaving, left, failed };
std::string_view to_string(MemberStatus s);

struct Member {
  std::string name;
  Address addr;
  std::map<std::string, std::string> tags;
  MemberStatus status = MemberStatus::none;
  VersionVector vsn;  // [pmin, pmax, pcur, dmin, dmax, dcur]
};

enum class MemberEventType : uint8_t { join, leave, failed, update, reap };
std::string_view to_string(MemberEventType t);

// ---- actions ----

// Send one UDP datagram. Best effort: the shell may drop it on error (and count it).
struct SendPacket {
  Address to;
  Bytes data;
};

// Open a TCP stream to `to`, write `data`, and if `expect_reply`, read one framed message
// (wire::stream_message_length) and hand it to Serf::handle_stream_reply(id, ...), or an
// error Status if connect/write/read failed or took longer than `timeout`. Without
// expect_reply the shell closes after writing and reports nothing back.
struct StreamRequest {
  uint64_t id = 0;
  Address to;
  Bytes data;
  bool expect_reply = false;
  Duration timeout{};
};

// A membership change as Serf reports it (for logs, event streams and handlers).
struct MemberEvent {
  MemberEventType type;
  Member member;
};

// The outcome of Serf::join(id, ...): how many of the given addresses we synced with.
struct JoinDone {
  uint64_t id = 0;
  int joined = 0;
  std::vector<std::string> errors;  // one per address that failed, naming it
};

// A graceful leave has finished: the shell may stop the transport now.
struct LeaveDone {};

// ---- the event layer (user events and queries, serf_events.cc / serf_queries.cc) ----

// A user event delivered for the first time (de-duplicated by Lamport time, name and
// payload; older than the event buffer or than the join's event clock: not delivered).
struct UserEvent {
  LamportTime ltime = 0;
  std::string name;
  Bytes payload;
  bool coalesce = false;  // the sender allows coalescing (Serf's CC flag)
};

// A query this node passed the filters of and should answer (internal `_serf_*` queries
// are answered inside the core and never appear here). Answer with
// Serf::respond(token, payload) before `deadline`, at most once; or ignore it.
struct QueryReceived {
  uint64_t token = 0;  // names this query to Serf::respond
  LamportTime ltime = 0;
  uint32_t id = 0;
  std::string name;
  Bytes payload;
  std::string source_node;
  TimePoint deadline{};
  size_t max_payload = 0;  // the largest response payload that fits the response limit
};

// Progress of a query this node started (Serf::query). `query` is the value query()
// returned. Each node's ack and response is reported once; QueryFinished comes last.
struct QueryAckReceived {
  LamportTime query = 0;
  std::string from;
};
struct QueryResponseReceived {
  LamportTime query = 0;
  std::string from;
  Bytes payload;
};
struct QueryFinished {
  LamportTime query = 0;
  size_t acks = 0;
  size_t responses = 0;
};

// Another node claims our name and this node asked the cluster who owns it (Serf's name
// conflict resolution). stay == false: a majority of answers name the other node's
// address, and the shell should shut this node down, as serf does.
struct NameConflictResolved {
  int responses = 0;
  int matching = 0;
  bool stay = true;
};

using Action = std::variant<SendPacket, StreamRequest, MemberEvent, JoinDone, LeaveDone,
                            UserEvent, QueryReceived, QueryAckReceived, QueryResponseReceived,
                            QueryFinished, NameConflictResolved>;

}  // namespace shoal::gossip
