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
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "gossip/address.h"
#include "gossip/events.h"
#include "gossip/serf.h"

namespace shoal::node {

// Who this agent is, for GET /v1/agent/self.
struct SelfInfo {
  gossip::Member member;
  std::string node_id;
  std::string profile;
  gossip::Address http;
  std::string data_dir;
  gossip::SerfStats stats;
  uint64_t packets_send_failed = 0;  // the shell's own counters
  uint64_t streams_failed = 0;
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
};

}  // namespace shoal::node
