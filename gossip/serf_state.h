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
#include <string>
#include <vector>

#include "base/rng.h"
#include "gossip/broadcast_queue.h"
#include "gossip/events.h"
#include "gossip/lamport.h"
#include "gossip/memberlist.h"
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

class SerfState final : public MemberlistDelegate {
 public:
  SerfState(SerfConfig config, Rng rng);

  // ---- MemberlistDelegate ----
  Bytes node_meta(size_t limit) override;
  void notify_msg(ByteView msg, TimePoint now) override;
  std::vector<Bytes> get_broadcasts(size_t overhead, size_t limit, size_t max_count) override;
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
};

}  // namespace shoal::gossip
