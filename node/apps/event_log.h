// node/apps/event_log.h
//
// The lifecycle event log (docs/apps.md, "Events"): what happened to an app or to the
// cluster, when, where and why. Each app's state machine keeps one (app_events.h derives its
// events from the commands it applies); the catalog keeps one for node and catalog events.
// Because the log lives in the Raft state machines, every replica holds the same events in
// the same order and they survive leader changes and restarts (they are in the snapshot).
//
// Contract:
//  - An EventLog is a bounded ring: it keeps the newest `capacity` events; older ones are
//    dropped. Sequence numbers start at 1, grow by one per append and are never reused, so
//    a reader that asks since(seq) sees a gap (first seq > seq + 1) when it fell behind.
//  - Pure and deterministic: append() takes the event's time from the caller (the command
//    that caused it), never from a clock.
//  - to_json()/from_json() round-trip exactly; from_json() refuses (invalid_argument naming
//    the problem) what it cannot trust, and then the caller keeps its old log.
//  - Not thread-safe: owned by a state machine (see app_state.h).
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace shoal::node::apps {

inline constexpr size_t kEventLogCapacity = 1000;
inline constexpr size_t kMaxEventMessageBytes = 1024;

// Kinds (docs/apps.md has the table). App log: deploy_started, deploy_finished,
// config_changed, rolled_back, scaled, stopped, started_app, restart_requested, placed,
// moved, unplaced, removed, started, restarted, healthy, unhealthy, crashed, crash_loop,
// failed, stopped_instance, lost, node_failed, replacements_placed, failover_recovered,
// failover_incomplete, leader_changed. Catalog log: node_joined, node_failed, node_left,
// node_recovered, app_created, app_destroyed, leader_changed.
struct Event {
  uint64_t seq = 0;
  int64_t time_ms = 0;  // wall clock of the node that proposed the command
  std::string kind;
  std::string app;       // "" in the catalog's log unless about an app
  std::string node;      // the node it happened on or to, if any
  std::string instance;  // "web.3", if about one instance
  uint64_t release = 0;  // 0: none
  std::string message;   // the reason, for people
  nlohmann::json data;   // kind-specific numbers (failover durations), an object or null
  bool operator==(const Event&) const = default;
};

nlohmann::json to_json(const Event& e);
Result<Event> event_from_json(const nlohmann::json& j);

class EventLog {
 public:
  explicit EventLog(size_t capacity = kEventLogCapacity) : capacity_(capacity) {}

  // Gives `e` the next seq, trims the message, and keeps it (dropping the oldest when full).
  const Event& append(Event e);
  // Events with seq > `after`, oldest first, at most `limit`.
  std::vector<Event> since(uint64_t after, size_t limit) const;
  // The newest `limit` events, oldest first.
  std::vector<Event> last(size_t limit) const;
  const std::deque<Event>& events() const { return events_; }
  uint64_t last_seq() const { return next_seq_ - 1; }
  size_t capacity() const { return capacity_; }

  nlohmann::json to_json() const;
  static Result<EventLog> from_json(const nlohmann::json& j, size_t capacity = kEventLogCapacity);
  bool operator==(const EventLog&) const = default;

 private:
  size_t capacity_;
  std::deque<Event> events_;
  uint64_t next_seq_ = 1;
};

}  // namespace shoal::node::apps
