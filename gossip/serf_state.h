// gossip/serf_state.h
//
// SerfState: the inside of gossip::Serf (serf.h). It is memberlist's delegate and keeps
// Serf's view of members: status (alive/leaving/left/failed) ordered by the Lamport time
// of join/leave intents, the lists of failed and left members that reconnect and reaping
// walk, and intents heard about members we have not met yet.
//
// Internal to gossip/: only serf.cc and the serf_*.cc files use it. Single strand.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/rng.h"
#include "gossip/broadcast_queue.h"
#include "gossip/events.h"
#include "gossip/lamport.h"
#include "gossip/memberlist.h"
#include "gossip/query.h"
#include "gossip/serf.h"

namespace shoal::gossip {

struct MemberState {
  Member member;
  LamportTime status_ltime = 0;
  TimePoint leave_time{};  // when it failed or left: starts the reap clock
};

struct NodeIntent {
  SerfMessageType type;
  LamportTime ltime;
  TimePoint seen;
};

enum class SerfLifecycle : uint8_t { alive, leaving, left };

// The queries seen at one Lamport time (Serf's `queries`), for de-duplication.
struct SeenQueries {
  LamportTime ltime = 0;
  std::vector<uint32_t> ids;
};

// A query this node started, collecting acks and responses until its deadline.
struct OutgoingQuery {
  uint32_t id = 0;
  TimePoint deadline{};
  bool want_acks = false;
  bool internal = false;  // answers go to the core (conflict resolution), not the shell
  std::set<std::string> acks;
  std::set<std::string> responses;
  std::vector<Bytes> payloads;  // internal queries only
};

// A query this node may still answer (Serf::respond).
struct IncomingQuery {
  LamportTime ltime = 0;
  uint32_t id = 0;
  Bytes addr;
  uint16_t port = 0;
  std::string source_node;
  uint8_t relay_factor = 0;
  TimePoint deadline{};
};

class SerfState final : public MemberlistDelegate {
 public:
  SerfState(SerfConfig config, Rng rng);

  // ---- MemberlistDelegate ----
  Bytes node_meta(size_t limit) override;
  void notify_msg(ByteView msg, TimePoint now) override;
  std::vector<Bytes> get_broadcasts(size_t overhead, size_t limit, size_t max_count) override;
  std::vector<Bytes> get_urgent_broadcasts(size_t overhead, size_t limit,
                                           size_t max_count) override;
  Bytes local_state(bool join) override;
  void merge_remote_state(ByteView state, bool join, TimePoint now) override;
  void notify_join(const NodeState& node, TimePoint now) override;
  void notify_leave(const NodeState& node, TimePoint now) override;
  void notify_update(const NodeState& node, TimePoint now) override;
  void notify_conflict(const NodeState& existing, const NodeState& other) override;
  Bytes ack_payload() override;
  void notify_ping_complete(const NodeState& node, Duration rtt, ByteView payload) override;

  // ---- Serf's rules ----
  bool handle_leave_intent(const SerfLeave& msg, TimePoint now);
  bool handle_join_intent(const SerfJoin& msg, TimePoint now);
  void broadcast_join(LamportTime ltime, TimePoint now);
  void queue_intent(Bytes msg, BroadcastQueue::Finished notify = nullptr);
  void erase_member(const std::string& name);
  void reap(TimePoint now);
  void reconnect(TimePoint now);
  void emit(MemberEventType type, const Member& m);
  bool has_alive_members() const;

  // ---- user events (serf_events.cc) ----
  Status user_event(const std::string& name, Bytes payload, bool coalesce, TimePoint now);
  // Delivers an event not seen before; returns whether to rebroadcast it.
  bool handle_user_event(const SerfUserEvent& msg);
  std::vector<SerfUserEvents> recent_events() const;

  // ---- queries (serf_queries.cc) ----
  Result<QueryStarted> query(const std::string& name, Bytes payload, const QueryParams& params,
                             TimePoint now, bool internal = false);
  Duration default_query_timeout() const;
  // Returns whether to rebroadcast it.
  bool handle_query(const SerfQuery& q, TimePoint now);
  void handle_query_response(const SerfQueryResponse& resp);
  void handle_relay(ByteView body, TimePoint now);
  bool should_process_query(const std::vector<Bytes>& filters) const;
  Status respond(uint64_t token, Bytes payload, TimePoint now);
  size_t max_response_payload(LamportTime ltime, uint32_t id) const;
  void relay_response(uint8_t relay_factor, const Address& dest, const std::string& dest_name,
                      ByteView raw);
  void send_to(const Address& to, const std::string& name, ByteView raw, TimePoint now);
  void expire_queries(TimePoint now);
  TimePoint next_query_deadline() const;
  void install_builtin_queries();
  std::optional<Bytes> answer_conflict(const QueryReceived& q) const;
  void start_conflict_resolution(TimePoint now);
  void finish_conflict_resolution(const OutgoingQuery& q);

  SerfConfig config;
  Rng rng;
  std::vector<Action> outbox;
  std::unique_ptr<Memberlist> memberlist;

  LamportClock clock;        // member intents
  LamportClock event_clock;  // user events (issue 4 fills these in)
  LamportClock query_clock;
  SerfLifecycle lifecycle = SerfLifecycle::alive;

  std::map<std::string, MemberState> members;
  std::vector<std::string> failed_members;  // in the order they failed
  std::vector<std::string> left_members;
  std::map<std::string, NodeIntent> recent_intents;
  BroadcastQueue intents;  // Serf's join/leave broadcasts

  TimePoint next_reap = kTimeNever;
  TimePoint next_reconnect = kTimeNever;

  // Graceful leave, as a small state machine driven by tick().
  enum class LeavePhase : uint8_t { none, intent, memberlist, propagate, done };
  LeavePhase leave_phase = LeavePhase::none;
  TimePoint leave_deadline = kTimeNever;
  bool leave_intent_sent = false;
  bool leave_memberlist_done = false;

  uint64_t next_join_id = 0;

  // ---- user events ----
  std::vector<std::optional<SerfUserEvents>> event_buffer;  // slot = ltime % size
  LamportTime event_min_time = 0;  // events before it are not delivered (join, snapshot)
  int event_join_ignore = 0;       // joins in flight that asked not to replay old events
  BroadcastQueue event_broadcasts;
  uint64_t user_events_delivered = 0;
  uint64_t user_events_too_old = 0;

  // ---- queries ----
  std::vector<std::optional<SeenQueries>> query_buffer;  // slot = ltime % size
  LamportTime query_min_time = 0;
  BroadcastQueue query_broadcasts;
  std::map<LamportTime, OutgoingQuery> outgoing_queries;
  std::map<uint64_t, IncomingQuery> incoming_queries;  // by token
  uint64_t next_query_token = 0;
  std::map<std::string, InternalQueryHandler, std::less<>> internal_queries;
  uint64_t queries_seen = 0;
  bool conflict_detected = false;            // start resolution at the next entry point
  std::optional<LamportTime> conflict_query;  // resolution in progress
};

}  // namespace shoal::gossip
