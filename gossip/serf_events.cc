// Serf's user events: Lamport-stamped, broadcast with a transmit budget, de-duplicated
// through a ring of recent Lamport times (the event buffer), and carried whole in
// push-pull so a member that missed the gossip still gets them (serf.go, UserEvent and
// handleUserEvent).
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include "gossip/serf_state.h"
#include "gossip/wire.h"

namespace shoal::gossip {

Status SerfState::user_event(const std::string& name, Bytes payload, bool coalesce,
                             TimePoint /*now*/) {
  if (name.empty()) return Status::invalid_argument("user event name must not be empty");
  const size_t raw_size = name.size() + payload.size();
  const size_t limit = std::min(config.user_event_size_limit, kUserEventSizeLimitMax);
  if (raw_size > limit) {
    return Status::invalid_argument(
        fmt::format("user event is {} bytes (name + payload); the limit is {} bytes", raw_size,
                    limit));
  }
  if (lifecycle != SerfLifecycle::alive) {
    return Status::unavailable("the node is leaving the cluster");
  }
  SerfUserEvent msg{event_clock.time(), name, std::move(payload), coalesce};
  Bytes raw = encode_serf(msg);
  if (raw.size() > limit) {
    return Status::invalid_argument(fmt::format(
        "user event is {} bytes encoded; the limit is {} bytes", raw.size(), limit));
  }
  event_clock.increment();
  handle_user_event(msg);
  event_broadcasts.push(std::string(), std::move(raw));
  return Status();
}

bool SerfState::handle_user_event(const SerfUserEvent& msg) {
  event_clock.witness(msg.ltime);
  if (msg.ltime < event_min_time) return false;
  const LamportTime cur = event_clock.time();
  const LamportTime size = event_buffer.size();
  if (cur > size && msg.ltime < cur - size) {
    ++user_events_too_old;
    spdlog::debug("serf: received old event {} from time {} (current {})", msg.name, msg.ltime,
                  cur);
    return false;
  }
  auto& slot = event_buffer[msg.ltime % size];
  if (slot && slot->ltime == msg.ltime) {
    for (const auto& prev : slot->events) {
      if (prev.name == msg.name && prev.payload == msg.payload) return false;
    }
  } else {
    slot = SerfUserEvents{msg.ltime, {}};
  }
  slot->events.push_back(SerfUserEventEntry{msg.name, msg.payload});
  ++user_events_delivered;
  outbox.push_back(UserEvent{msg.ltime, msg.name, msg.payload, msg.cc});
  return true;
}

std::vector<SerfUserEvents> SerfState::recent_events() const {
  std::vector<SerfUserEvents> out;
  for (const auto& slot : event_buffer) {
    if (slot) out.push_back(*slot);
  }
  return out;
}

}  // namespace shoal::gossip
