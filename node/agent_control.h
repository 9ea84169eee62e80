// node/agent_control.h
//
// AgentControl: what the HTTP API may ask of a running agent, as a small interface so the
// API can be tested against a fake and the agent can change behind it.
//
// Contract:
//  - Every method is thread-safe and may block the caller (an HTTP worker thread), but
//    never longer than its documented bound; past it the answer is Status::timeout.
//  - Never call these from the agent's own loop thread: they wait for that thread.
//  - Errors say what was wrong, fit for a user: invalid_argument (bad input, HTTP 400),
//    not_found (404), unavailable (the agent is leaving or stopped, 503), timeout (503).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "gossip/address.h"
#include "gossip/events.h"
#include "gossip/key_query.h"
#include "gossip/serf.h"

namespace shoal::node {

// What the --event-handler scripts did so far (node/event_handler.h).
struct EventHandlerStats {
  uint64_t runs = 0;      // scripts started
  uint64_t failures = 0;  // runs that failed, for any reason (timeouts included)
  uint64_t timeouts = 0;  // runs killed at the timeout
  uint64_t dropped = 0;   // events a handler never saw: its queue was full, or the agent stopped
};

// Who this agent is, for GET /v1/agent/self.
struct SelfInfo {
  gossip::Member member;
  std::string node_id;
  std::string profile;
  gossip::Address http;
  std::string data_dir;
  gossip::SerfStats stats;
  bool encrypted = false;  // gossip is encrypted with a keyring
  uint64_t packets_send_failed = 0;  // the shell's own counters
  uint64_t streams_failed = 0;
  EventHandlerStats event_handlers;
};

struct JoinOutcome {
  int joined = 0;
  std::vector<std::string> errors;  // one per address that failed, naming it
};

struct TagUpdate {
  std::map<std::string, std::string> set;
  std::vector<std::string> remove;
};

// One membership change as the agent saw it (the recent-events ring).
struct RecentEvent {
  uint64_t seq = 0;  // 1, 2, ... in the order the agent saw them
  std::chrono::system_clock::time_point at;
  gossip::MemberEventType type = gossip::MemberEventType::join;
  std::string node;
  gossip::Address addr;
  gossip::MemberStatus status = gossip::MemberStatus::none;
};

// One thing the agent saw, in order: a membership change, a user event, or a query this
// node passed the filters of (GET /v1/agent/events; event handlers).
struct AgentEvent {
  enum class Kind : uint8_t { member, user, query };
  uint64_t seq = 0;  // 1, 2, ... per agent
  std::chrono::system_clock::time_point at;
  Kind kind = Kind::member;
  gossip::MemberEventType member_type = gossip::MemberEventType::join;  // kind == member
  gossip::Member member;                                                // kind == member
  gossip::UserEvent user;                                               // kind == user
  gossip::QueryReceived query;  // kind == query; answer with AgentControl::respond
};

// Runs on the agent's loop thread for each event; must not block (queue the work).
// Return false to stop receiving.
using AgentEventSink = std::function<bool(const AgentEvent&)>;

// Progress of a query this agent started.
struct QueryUpdate {
  enum class Kind : uint8_t { ack, response, done };
  Kind kind = Kind::ack;
  std::string from;     // ack, response
  Bytes payload;        // response
  size_t acks = 0;      // done
  size_t responses = 0;  // done
};
// Runs on the agent's loop thread; must not block. `done` comes last, exactly once
// (also when the agent stops before the deadline).
using QuerySink = std::function<void(const QueryUpdate&)>;

struct QueryStartInfo {
  uint32_t id = 0;
  Duration timeout{};
};

class AgentControl {
 public:
  virtual ~AgentControl() = default;

  // Members as this agent sees them, including itself. Bound: a few seconds.
  virtual Result<std::vector<gossip::Member>> members() = 0;
  virtual Result<SelfInfo> self() = 0;
  virtual Result<size_t> num_alive() = 0;
  virtual Result<std::vector<RecentEvent>> recent_events() = 0;

  // Push-pull with each address; joined == 0 is still a result (errors say why).
  // replay: replay old user events. Bound: the gossip TCP timeout per address plus a few
  // seconds, at most 5 minutes.
  virtual Result<JoinOutcome> join(const std::vector<gossip::Address>& addrs, bool replay) = 0;
  // Graceful leave; returns once the leave has spread (or its deadline passed). The agent
  // stops afterwards. Bound: broadcast_timeout + leave_propagate_delay + a few seconds.
  virtual Status leave() = 0;
  // Marks a failed member as left; not_found if unknown.
  virtual Status force_leave(const std::string& node, bool prune) = 0;
  // Applies `update` to this node's tags; returns the tags now in effect.
  virtual Result<std::map<std::string, std::string>> update_tags(const TagUpdate& update) = 0;

  // ---- events and queries ----
  // (Defaults answer "unsupported", so fakes that do not need them stay small.)
  // Broadcasts a user event; invalid_argument past the size limit.
  virtual Status user_event(const std::string& name, Bytes payload, bool coalesce);
  // Starts a query; `sink` receives its acks and responses, then done.
  virtual Result<QueryStartInfo> query(const std::string& name, Bytes payload,
                                       const gossip::QueryParams& params, QuerySink sink);
  // Answers a query this node received (AgentEvent::query.token).
  virtual Status respond(uint64_t token, Bytes payload);
  // Every later AgentEvent goes to `sink` until it returns false or unsubscribe(id).
  virtual Result<uint64_t> subscribe(AgentEventSink sink);
  virtual void unsubscribe(uint64_t id);

  // ---- the cluster's keyring (serf's key manager) ----
  // Runs one keyring operation on every member through serf's internal queries
  // (`_serf_install-key`, `_serf_use-key`, `_serf_remove-key`, `_serf_list-keys`; `key` is
  // ignored for list) and tallies the answers (gossip::KeyReport) against the members gossip
  // knows when it starts. Returns once every one of them answered, or at the query's
  // deadline. A member's failure is in the report (report.status()); the Status is only for
  // the request itself (unavailable when the agent is stopping). Bound: the query timeout
  // plus a few seconds.
  virtual Result<gossip::KeyReport> key_operation(gossip::KeyOp op, Bytes key);
};

inline Status AgentControl::user_event(const std::string&, Bytes, bool) {
  return Status::unavailable("this agent does not send user events");
}
inline Result<QueryStartInfo> AgentControl::query(const std::string&, Bytes,
                                                  const gossip::QueryParams&, QuerySink) {
  return Status::unavailable("this agent does not run queries");
}
inline Status AgentControl::respond(uint64_t, Bytes) {
  return Status::unavailable("this agent does not answer queries");
}
inline Result<uint64_t> AgentControl::subscribe(AgentEventSink) {
  return Status::unavailable("this agent has no event stream");
}
inline void AgentControl::unsubscribe(uint64_t) {}
inline Result<gossip::KeyReport> AgentControl::key_operation(gossip::KeyOp, Bytes) {
  return Status::unavailable("this agent does not manage keys");
}

}  // namespace shoal::node
