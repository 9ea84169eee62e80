// simulations/event_queue.h
//
// EventQueue: the simulator's agenda. Events are ordered by (time, sequence number); the
// sequence number is given at push, so two events due at the same instant run in the order
// they were scheduled. That tie-break is what makes a run a pure function of its seed.
//
// Contract: pop() REQUIRES !empty(). Events are moved in and out (payloads are not copied).
// Not thread-safe; one per run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "base/time.h"

namespace shoal::sim {

enum class EventKind : uint8_t {
  wake,          // node: its core asked to be ticked
  packet,        // node: a datagram arrives from `peer`
  stream_open,   // node: a stream from `peer` delivers its request
  stream_reply,  // node: the answer (or error) to its stream request `id`
  start,         // node: boots (first start or restart) and joins
  join_retry,    // node: its join reached nobody; try again
  fault,         // timeline entry `id`
  sample,        // take a measurement
};

struct Event {
  TimePoint at{};
  uint64_t seq = 0;
  EventKind kind = EventKind::wake;
  bool deferred = false;  // already held back once by a slow node
  uint32_t node = 0;
  uint32_t peer = 0;
  uint32_t gen = 0;       // the generation (restart count) of `node` this is meant for
  uint32_t peer_gen = 0;  // and of `peer`, for stream replies
  uint64_t id = 0;
  bool expect_reply = false;
  TimePoint deadline{};
  Bytes data;
  Status error;  // stream_reply: non-ok means connect/read failed
};

class EventQueue {
 public:
  void push(Event e) {
    e.seq = next_seq_++;
    heap_.push_back(std::move(e));
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }
  Event pop() {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    Event e = std::move(heap_.back());
    heap_.pop_back();
    return e;
  }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  TimePoint next_time() const { return heap_.empty() ? kTimeNever : heap_.front().at; }
  uint64_t pushed() const { return next_seq_; }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  std::vector<Event> heap_;
  uint64_t next_seq_ = 0;
};

}  // namespace shoal::sim
