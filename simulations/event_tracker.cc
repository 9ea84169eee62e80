#include "simulations/event_tracker.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace shoal::sim {

namespace {

constexpr std::string_view kPrefix = "ev-";

// "ev-12" -> 12; SIZE_MAX if the name is not one the simulator gave out.
size_t number_of(const std::string& name) {
  if (name.size() <= kPrefix.size() || name.compare(0, kPrefix.size(), kPrefix) != 0) return SIZE_MAX;
  size_t v = 0;
  const char* end = name.data() + name.size();
  auto [p, ec] = std::from_chars(name.data() + kPrefix.size(), end, v);
  return ec == std::errc() && p == end ? v : SIZE_MAX;
}

}  // namespace

std::string UserEventRecord::lacking(TimePoint deadline, size_t limit) const {
  std::vector<std::string> names;
  size_t more = 0;
  for (size_t i = 0; i < state.size(); ++i) {
    if (!must_get(i)) continue;
    const bool got = (state[i] & kGot) != 0;
    if (got && at[i] <= deadline) continue;
    if (names.size() == limit) {
      ++more;
      continue;
    }
    names.push_back(got ? fmt::format("n{} (+{:.3f}s)", i, to_seconds(at[i] - sent))
                        : fmt::format("n{} (never)", i));
  }
  std::string out = fmt::format("{}", fmt::join(names, ", "));
  if (more > 0) out += fmt::format(" and {} more", more);
  return out;
}

UserEventSummary summarize(const std::vector<UserEventRecord>& events) {
  UserEventSummary s;
  std::vector<Duration> times;
  for (const auto& e : events) {
    ++s.sent;
    s.missing += e.pending;
    if (e.all) times.push_back(*e.all - e.sent);
  }
  s.reached_all = times.size();
  if (!times.empty()) {
    std::sort(times.begin(), times.end());
    s.median = times[(times.size() - 1) / 2];
    s.max = times.back();
  }
  return s;
}

std::string EventTracker::next_name() const {
  return fmt::format("{}{}", kPrefix, events_.size());
}

void EventTracker::sent(size_t sender, const std::vector<uint8_t>& up, TimePoint now) {
  UserEventRecord e;
  e.name = next_name();
  e.sender = sender;
  e.sent = now;
  e.last = now;
  e.state.assign(n_, 0);
  e.at.assign(n_, TimePoint{});
  for (size_t i = 0; i < n_; ++i) {
    if (up[i] == 0) continue;
    e.state[i] = UserEventRecord::kRequired;
    ++e.required;
  }
  e.pending = e.required;
  events_.push_back(std::move(e));
  open_.push_back(events_.size() - 1);
  complete_if_done(events_.back());
}

void EventTracker::delivered(size_t node, const std::string& name, TimePoint now) {
  const size_t k = number_of(name);
  if (k >= events_.size() || node >= n_) return;
  UserEventRecord& e = events_[k];
  uint8_t& st = e.state[node];
  if (st & UserEventRecord::kGot) return;
  const bool owed = e.must_get(node);
  st |= UserEventRecord::kGot;
  e.at[node] = now;
  ++e.delivered;
  if (!owed) return;
  --e.pending;
  e.last = std::max(e.last, now);
  complete_if_done(e);
}

void EventTracker::node_down(size_t node) {
  for (size_t k : open_) {
    UserEventRecord& e = events_[k];
    uint8_t& st = e.state[node];
    if (!e.must_get(node) || (st & UserEventRecord::kGot)) continue;
    st |= UserEventRecord::kExcused;
    --e.pending;
    ++e.excused;
  }
  // Completions are settled after the loop: complete_if_done edits open_.
  const std::vector<size_t> open = open_;
  for (size_t k : open) complete_if_done(events_[k]);
}

void EventTracker::complete_if_done(UserEventRecord& e) {
  if (e.pending > 0 || e.all) return;
  // Reached every node that must get it; if the last one owed went down instead, the event
  // was complete at the last delivery before that.
  e.all = e.last;
  const size_t k = size_t(&e - events_.data());
  std::erase(open_, k);
}

}  // namespace shoal::sim
