// node/recent_events.h
//
// RecentEvents: a bounded ring of the latest membership events, for the API and for
// humans reading `shoal` output. Oldest events fall off once `capacity` is reached.
//
// Contract: not thread-safe; owned by the agent and used on its loop thread only (the API
// reads a snapshot through AgentControl::recent_events).
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "node/agent_control.h"

namespace shoal::node {

class RecentEvents {
 public:
  explicit RecentEvents(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Stamps the event with the next sequence number and keeps it.
  void add(RecentEvent event) {
    event.seq = ++total_;
    if (events_.size() == capacity_) events_.pop_front();
    events_.push_back(std::move(event));
  }
  // Oldest first.
  std::vector<RecentEvent> snapshot() const { return {events_.begin(), events_.end()}; }
  uint64_t total() const { return total_; }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  uint64_t total_ = 0;
  std::deque<RecentEvent> events_;
};

}  // namespace shoal::node
