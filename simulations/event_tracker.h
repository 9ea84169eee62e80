// simulations/event_tracker.h
//
// EventTracker: where each Serf user event of a run went, and when. The simulator opens a
// record when a node sends an event (the `event` timeline action), and the observer passes
// on every delivery a core reports (ViewSink::on_user_event) and every node that goes down.
//
// Who must get an event: each node up when it was sent, for as long as it stays up. A node
// killed, left or restarted before its copy arrived is excused from then on: its next
// incarnation is a new process that was not there at the send. Nodes that were down at the
// send may still get the event (Serf hands recent events over in push-pull); that is
// recorded, but never waited for.
//
// Contract:
//  - Events are named "ev-<k>", k counting from 0 over the run (next_name()); deliveries of
//    other names are ignored, so an application's own events cannot confuse the record.
//  - A node's first delivery of an event counts; later ones (a restarted node hearing it
//    again) are ignored.
//  - Memory: one state byte and one time per (event, node): events are few. A delivery is
//    O(1); a node going down costs O(events still on their way). Single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"

namespace shoal::sim {

struct UserEventRecord {
  // Bits of `state`, per node.
  static constexpr uint8_t kRequired = 1;  // up at the send
  static constexpr uint8_t kGot = 2;       // delivered (at[node] says when)
  static constexpr uint8_t kExcused = 4;   // required, but went down before its copy came

  std::string name;
  size_t sender = 0;
  TimePoint sent{};
  std::optional<TimePoint> all;  // when the last node that must get it did
  TimePoint last{};              // the latest delivery to a node that must get it, so far
  size_t required = 0;           // nodes up at the send, the sender included
  size_t pending = 0;            // of those, still up and still without it
  size_t excused = 0;            // of those, went down before it came
  size_t delivered = 0;          // nodes that got it, required or not
  std::vector<uint8_t> state;
  std::vector<TimePoint> at;

  bool must_get(size_t node) const {
    return (state[node] & (kRequired | kExcused)) == kRequired;
  }
  // Nodes that must get it and had not by `deadline` (an absolute time): "n4 (+3.104s),
  // n9 (never)", at most `limit` named.
  std::string lacking(TimePoint deadline, size_t limit = 8) const;
};

// What a run's events amount to; times-to-all are over the events that reached all.
struct UserEventSummary {
  size_t sent = 0;
  size_t reached_all = 0;
  std::optional<Duration> median;
  std::optional<Duration> max;
  size_t missing = 0;  // (event, node) deliveries still owed at the end of the run
};
UserEventSummary summarize(const std::vector<UserEventRecord>& events);

class EventTracker {
 public:
  explicit EventTracker(size_t n) : n_(n) {}

  std::string next_name() const;
  // `sender` has just sent next_name(); `up` (one byte per node) is the truth at `now`.
  void sent(size_t sender, const std::vector<uint8_t>& up, TimePoint now);
  void delivered(size_t node, const std::string& name, TimePoint now);
  void node_down(size_t node);

  const std::vector<UserEventRecord>& events() const { return events_; }

 private:
  void complete_if_done(UserEventRecord& e);

  size_t n_;
  std::vector<UserEventRecord> events_;
  std::vector<size_t> open_;  // indices of events some node still waits for
};

}  // namespace shoal::sim
