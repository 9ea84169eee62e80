#include "node/apps/event_log.h"

#include <fmt/format.h>

#include "node/apps/json_fields.h"

namespace shoal::node::apps {

using json = nlohmann::json;

json to_json(const Event& e) {
  json j = {{"seq", e.seq}, {"time_ms", e.time_ms}, {"kind", e.kind}, {"message", e.message}};
  // Empty fields are left out: most events name only some of them.
  if (!e.app.empty()) j["app"] = e.app;
  if (!e.node.empty()) j["node"] = e.node;
  if (!e.instance.empty()) j["instance"] = e.instance;
  if (e.release != 0) j["release"] = e.release;
  if (e.data.is_object() && !e.data.empty()) j["data"] = e.data;
  return j;
}

Result<Event> event_from_json(const json& j) {
  JsonFields f(j, "event");
  Event e;
  e.seq = f.uint64("seq");
  e.time_ms = f.int64("time_ms");
  e.kind = f.str("kind", 64);
  e.message = f.str("message", kMaxEventMessageBytes);
  e.app = f.opt_str("app", 256).value_or("");
  e.node = f.opt_str("node", 256).value_or("");
  e.instance = f.opt_str("instance", 256).value_or("");
  e.release = f.has("release") ? f.uint64("release") : 0;
  if (const json* d = f.opt("data")) {
    if (!d->is_object()) {
      f.fail("'data' must be an object");
    } else {
      e.data = *d;
    }
  }
  if (!f.ok()) return Status::invalid_argument(f.error());
  return e;
}

const Event& EventLog::append(Event e) {
  e.seq = next_seq_++;
  if (e.message.size() > kMaxEventMessageBytes) e.message.resize(kMaxEventMessageBytes);
  events_.push_back(std::move(e));
  while (events_.size() > capacity_) events_.pop_front();
  return events_.back();
}

std::vector<Event> EventLog::since(uint64_t after, size_t limit) const {
  std::vector<Event> out;
  if (events_.empty() || after >= last_seq()) return out;
  // Seqs are consecutive within the ring: index of the first one after `after`.
  const uint64_t first = events_.front().seq;
  size_t i = after < first ? 0 : static_cast<size_t>(after + 1 - first);
  for (; i < events_.size() && out.size() < limit; ++i) out.push_back(events_[i]);
  return out;
}

std::vector<Event> EventLog::last(size_t limit) const {
  const size_t n = std::min(limit, events_.size());
  return {events_.end() - static_cast<std::ptrdiff_t>(n), events_.end()};
}

json EventLog::to_json() const {
  json events = json::array();
  for (const auto& e : events_) events.push_back(apps::to_json(e));
  return {{"next_seq", next_seq_}, {"events", std::move(events)}};
}

Result<EventLog> EventLog::from_json(const json& j, size_t capacity) {
  JsonFields f(j, "event log");
  EventLog log(capacity);
  log.next_seq_ = f.uint64("next_seq");
  const json& events = f.array("events");
  if (!f.ok()) return Status::invalid_argument(f.error());
  if (log.next_seq_ == 0) return Status::invalid_argument("event log: next_seq is 0");
  uint64_t prev = 0;
  for (const auto& ej : events) {
    auto e = event_from_json(ej);
    if (!e.ok()) return e.status();
    // since() relies on consecutive seqs below next_seq.
    if ((prev != 0 && e->seq != prev + 1) || e->seq == 0 || e->seq >= log.next_seq_) {
      return Status::invalid_argument(
          fmt::format("event log: seq {} does not follow {} below next_seq {}", e->seq, prev,
                      log.next_seq_));
    }
    prev = e->seq;
    log.events_.push_back(std::move(*e));
  }
  while (log.events_.size() > capacity) log.events_.pop_front();
  return log;
}

}  // namespace shoal::node::apps
