#include "gossip/coalescer.h"

namespace shoal::gossip {

void EventCoalescer::push(CoalescedEvent event, TimePoint now, std::vector<CoalescedEvent>& out) {
  tick(now, out);  // a window that is already due flushes before the new event
  if (auto* m = std::get_if<MemberEventBatch>(&event); m && opt_.member_period > Duration::zero()) {
    for (auto& member : m->members) {
      const std::string name = member.name;
      latest_members_[name] = {m->type, std::move(member)};
    }
    member_window_.hold(now, opt_.member_period, opt_.member_quiescent);
    return;
  }
  if (auto* u = std::get_if<UserEvent>(&event);
      u && u->coalesce && opt_.user_period > Duration::zero()) {
    const std::string name = u->name;
    auto it = latest_users_.find(name);
    if (it == latest_users_.end() || it->second.ltime < u->ltime) {
      latest_users_[name] = LatestUser{u->ltime, {std::move(*u)}};
    } else if (it->second.ltime == u->ltime) {
      it->second.events.push_back(std::move(*u));
    }  // older than what we hold: superseded
    user_window_.hold(now, opt_.user_period, opt_.user_quiescent);
    return;
  }
  out.push_back(std::move(event));
}

void EventCoalescer::tick(TimePoint now, std::vector<CoalescedEvent>& out) {
  if (member_window_.open() && member_window_.due() <= now) flush_members(out);
  if (user_window_.open() && user_window_.due() <= now) flush_users(out);
}

void EventCoalescer::flush(std::vector<CoalescedEvent>& out) {
  flush_members(out);
  flush_users(out);
}

TimePoint EventCoalescer::next_wakeup() const {
  return std::min(member_window_.due(), user_window_.due());
}

void EventCoalescer::flush_members(std::vector<CoalescedEvent>& out) {
  member_window_.close();
  std::map<MemberEventType, MemberEventBatch> batches;
  for (auto& [name, latest] : latest_members_) {
    auto& [type, member] = latest;
    auto prev = last_reported_.find(name);
    if (prev != last_reported_.end() && prev->second == type && type != MemberEventType::update) {
      continue;
    }
    last_reported_[name] = type;
    auto& batch = batches[type];
    batch.type = type;
    batch.members.push_back(std::move(member));
  }
  latest_members_.clear();
  for (auto& [type, batch] : batches) out.push_back(std::move(batch));
}

void EventCoalescer::flush_users(std::vector<CoalescedEvent>& out) {
  user_window_.close();
  for (auto& [name, latest] : latest_users_) {
    for (auto& e : latest.events) out.push_back(std::move(e));
  }
  latest_users_.clear();
}

}  // namespace shoal::gossip
