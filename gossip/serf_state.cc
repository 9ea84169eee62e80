// Serf's membership rules: how memberlist's join/leave/update notifications and the
// Lamport-ordered join/leave intents combine into a member's status, and the push-pull
// state that carries those intents to members who missed the broadcasts.
#include "gossip/serf_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "gossip/tags.h"
#include "gossip/wire.h"

namespace shoal::gossip {

namespace {

// User events are sent this many times serf's retransmit budget (get_urgent_broadcasts).
constexpr int kEventTransmitFactor = 2;

void remove_name(std::vector<std::string>& list, const std::string& name) {
  list.erase(std::remove(list.begin(), list.end(), name), list.end());
}

}  // namespace

std::string_view to_string(MemberStatus s) {
  switch (s) {
    case MemberStatus::none: return "none";
    case MemberStatus::alive: return "alive";
    case MemberStatus::leaving: return "leaving";
    case MemberStatus::left: return "left";
    case MemberStatus::failed: return "failed";
  }
  return "unknown";
}

std::string_view to_string(MemberEventType t) {
  switch (t) {
    case MemberEventType::join: return "member-join";
    case MemberEventType::leave: return "member-leave";
    case MemberEventType::failed: return "member-failed";
    case MemberEventType::update: return "member-update";
    case MemberEventType::reap: return "member-reap";
  }
  return "unknown";
}

SerfState::SerfState(SerfConfig cfg, Rng r) : config(std::move(cfg)), rng(r) {
  event_buffer.resize(std::max<size_t>(config.event_buffer, 1));
  query_buffer.resize(std::max<size_t>(config.query_buffer, 1));
  install_builtin_queries();
}

void SerfState::emit(MemberEventType type, const Member& m) {
  // The shell logs member events at info level; here they are only traced.
  spdlog::debug("serf: {} name={} addr={} status={}", to_string(type), m.name,
                m.addr.to_string(), to_string(m.status));
  outbox.push_back(MemberEvent{type, m});
}

Bytes SerfState::node_meta(size_t limit) {
  auto meta = encode_tags(config.tags);
  if (!meta.ok() || meta->size() > limit) {
    // Serf::create and set_tags refuse tags that do not fit, so this cannot happen.
    spdlog::error("serf: tags do not fit in {} bytes of meta", limit);
    return {};
  }
  return std::move(*meta);
}

Bytes SerfState::ack_payload() { return {}; }

void SerfState::notify_ping_complete(const NodeState&, Duration, ByteView) {}

void SerfState::notify_conflict(const NodeState& existing, const NodeState& other) {
  if (existing.name() == config.node_name) {
    spdlog::error("serf: our node name is claimed by another node at {} (resolution {})",
                  other.addr().to_string(),
                  config.enable_name_conflict_resolution ? "enabled" : "disabled");
    // Ask the cluster who owns the name once the current call returns (it needs `now`).
    conflict_detected = config.enable_name_conflict_resolution;
    return;
  }
  spdlog::error("serf: name conflict for {}: {} and {} both claim it", existing.name(),
                existing.addr().to_string(), other.addr().to_string());
}

void SerfState::notify_join(const NodeState& n, TimePoint /*now*/) {
  auto tags = decode_tags(n.meta());
  if (!tags.ok()) {
    spdlog::warn("serf: member {} has undecodable tags: {}", n.name(), tags.status().to_string());
  }
  auto it = members.find(n.name());
  MemberStatus old = MemberStatus::none;
  if (it == members.end()) {
    MemberState ms;
    ms.member.name = n.name();
    ms.member.status = MemberStatus::alive;
    // Intents may have arrived before the member itself did.
    if (auto intent = recent_intents.find(n.name()); intent != recent_intents.end()) {
      ms.status_ltime = intent->second.ltime;
      if (intent->second.type == SerfMessageType::leave) ms.member.status = MemberStatus::leaving;
    }
    it = members.emplace(n.name(), std::move(ms)).first;
  } else {
    old = it->second.member.status;
    it->second.member.status = MemberStatus::alive;
    it->second.leave_time = TimePoint{};
  }
  Member& m = it->second.member;
  m.addr = n.addr();
  m.tags = tags.ok() ? std::move(*tags) : std::map<std::string, std::string>{};
  m.vsn = n.vsn_vector();
  if (old == MemberStatus::failed || old == MemberStatus::left) {
    remove_name(failed_members, n.name());
    remove_name(left_members, n.name());
  }
  emit(MemberEventType::join, m);
}

void SerfState::notify_leave(const NodeState& n, TimePoint now) {
  auto it = members.find(n.name());
  if (it == members.end()) return;
  MemberState& ms = it->second;
  switch (ms.member.status) {
    case MemberStatus::leaving:
      ms.member.status = MemberStatus::left;
      ms.leave_time = now;
      left_members.push_back(n.name());
      emit(MemberEventType::leave, ms.member);
      return;
    case MemberStatus::alive:
      ms.member.status = MemberStatus::failed;
      ms.leave_time = now;
      failed_members.push_back(n.name());
      emit(MemberEventType::failed, ms.member);
      return;
    default:
      spdlog::warn("serf: leave notification for {} in state {}", n.name(),
                   to_string(ms.member.status));
  }
}

void SerfState::notify_update(const NodeState& n, TimePoint /*now*/) {
  auto it = members.find(n.name());
  if (it == members.end()) return;
  auto tags = decode_tags(n.meta());
  if (!tags.ok()) {
    spdlog::warn("serf: member {} has undecodable tags: {}", n.name(), tags.status().to_string());
  }
  Member& m = it->second.member;
  m.addr = n.addr();
  m.tags = tags.ok() ? std::move(*tags) : std::map<std::string, std::string>{};
  m.vsn = n.vsn_vector();
  emit(MemberEventType::update, m);
}

bool SerfState::handle_leave_intent(const SerfLeave& msg, TimePoint now) {
  clock.witness(msg.ltime);
  auto it = members.find(msg.node);
  if (it == members.end()) {
    auto intent = recent_intents.find(msg.node);
    if (intent == recent_intents.end() || msg.ltime > intent->second.ltime) {
      recent_intents[msg.node] = NodeIntent{SerfMessageType::leave, msg.ltime, now};
      return true;
    }
    return false;
  }
  MemberState& ms = it->second;
  if (msg.ltime <= ms.status_ltime) return false;
  if (msg.node == config.node_name && lifecycle == SerfLifecycle::alive) {
    // An old leave of ours still circulating: we are back, say so.
    spdlog::debug("serf: refuting an older leave intent");
    broadcast_join(clock.time(), now);
    return false;
  }
  ms.status_ltime = msg.ltime;
  switch (ms.member.status) {
    case MemberStatus::alive:
      ms.member.status = MemberStatus::leaving;
      if (msg.prune) erase_member(msg.node);
      return true;
    case MemberStatus::failed:
      ms.member.status = MemberStatus::left;
      remove_name(failed_members, msg.node);
      left_members.push_back(msg.node);
      emit(MemberEventType::leave, ms.member);
      if (msg.prune) erase_member(msg.node);
      return true;
    case MemberStatus::leaving:
    case MemberStatus::left:
      if (msg.prune) erase_member(msg.node);
      return true;
    default:
      return false;
  }
}

bool SerfState::handle_join_intent(const SerfJoin& msg, TimePoint now) {
  clock.witness(msg.ltime);
  auto it = members.find(msg.node);
  if (it == members.end()) {
    auto intent = recent_intents.find(msg.node);
    if (intent == recent_intents.end() || msg.ltime > intent->second.ltime) {
      recent_intents[msg.node] = NodeIntent{SerfMessageType::join, msg.ltime, now};
      return true;
    }
    return false;
  }
  MemberState& ms = it->second;
  if (msg.ltime <= ms.status_ltime) return false;
  ms.status_ltime = msg.ltime;
  if (ms.member.status == MemberStatus::leaving) ms.member.status = MemberStatus::alive;
  return true;
}

void SerfState::broadcast_join(LamportTime ltime, TimePoint now) {
  SerfJoin msg{ltime, config.node_name};
  clock.witness(ltime);
  handle_join_intent(msg, now);
  queue_intent(encode_serf(msg));
}

void SerfState::queue_intent(Bytes msg, BroadcastQueue::Finished notify) {
  // Serf's intents never replace each other in the queue (unnamed broadcasts).
  intents.push(std::string(), std::move(msg), std::move(notify));
}

void SerfState::erase_member(const std::string& name) {
  auto it = members.find(name);
  if (it == members.end()) return;
  remove_name(failed_members, name);
  remove_name(left_members, name);
  Member m = it->second.member;
  members.erase(it);
  memberlist->forget(name);
  emit(MemberEventType::reap, m);
}

bool SerfState::has_alive_members() const {
  for (const auto& [name, ms] : members) {
    if (name != config.node_name && ms.member.status == MemberStatus::alive) return true;
  }
  return false;
}

void SerfState::reap(TimePoint now) {
  auto reap_list = [&](std::vector<std::string>& list, Duration timeout) {
    std::vector<std::string> expired;
    for (const auto& name : list) {
      auto it = members.find(name);
      if (it != members.end() && now - it->second.leave_time > timeout) expired.push_back(name);
    }
    for (const auto& name : expired) erase_member(name);
  };
  reap_list(failed_members, config.reconnect_timeout);
  reap_list(left_members, config.tombstone_timeout);
  for (auto it = recent_intents.begin(); it != recent_intents.end();) {
    it = now - it->second.seen > config.recent_intent_timeout ? recent_intents.erase(it) : ++it;
  }
}

void SerfState::reconnect(TimePoint now) {
  if (failed_members.empty()) return;
  // Throttle: the more of the cluster is alive, the less often we chase the failed.
  const double failed = static_cast<double>(failed_members.size());
  double alive = static_cast<double>(members.size() - failed_members.size() - left_members.size());
  if (alive <= 0) alive = 1;
  if (rng.uniform01() > failed / alive) return;
  const std::string& name = failed_members[rng.uniform(failed_members.size())];
  const Address addr = members.at(name).member.addr;
  spdlog::info("serf: attempting reconnect to {} {}", name, addr.to_string());
  memberlist->join({addr}, [name](int joined, std::vector<std::string>) {
    if (joined == 0) spdlog::debug("serf: reconnect to {} failed", name);
  }, now);
}

std::vector<Bytes> SerfState::get_broadcasts(size_t overhead, size_t limit, size_t max_count) {
  // Membership intents, in what memberlist's own broadcasts left.
  const int transmits = retransmit_limit(config.memberlist.retransmit_mult, members.size());
  return intents.take(overhead, limit, transmits, max_count);
}

std::vector<Bytes> SerfState::get_urgent_broadcasts(size_t overhead, size_t limit,
                                                    size_t max_count) {
  // Queries, then user events, ahead of memberlist's broadcasts (memberlist_delegate.h).
  // A user event goes out twice as often as serf sends it: with serf's budget, each holder
  // sends it to 8 random peers at N = 50, and about one node in 8,000 is never picked
  // (the simulator's user_events scenario) and waits for a push-pull, up to a minute away.
  // Events are few and small; twice the sends square that chance.
  const int transmits = retransmit_limit(config.memberlist.retransmit_mult, members.size());
  std::vector<Bytes> out = query_broadcasts.take(overhead, limit, transmits, max_count);
  size_t used = 0;
  for (const auto& m : out) used += m.size() + overhead;
  if (used < limit && out.size() < max_count) {
    for (auto& m : event_broadcasts.take(overhead, limit - used, kEventTransmitFactor * transmits,
                                         max_count - out.size())) {
      out.push_back(std::move(m));
    }
  }
  return out;
}

Bytes SerfState::local_state(bool /*join*/) {
  SerfPushPull pp;
  pp.ltime = clock.time();
  for (const auto& [name, ms] : members) pp.status_ltimes[name] = ms.status_ltime;
  pp.left_members = left_members;
  pp.event_ltime = event_clock.time();
  pp.events = recent_events();  // as serf: the whole event buffer heals missed gossip
  pp.query_ltime = query_clock.time();
  return encode_serf(pp);
}

void SerfState::merge_remote_state(ByteView buf, bool join, TimePoint now) {
  if (buf.empty() || buf[0] != static_cast<uint8_t>(SerfMessageType::push_pull)) {
    spdlog::error("serf: remote state has a bad type prefix");
    return;
  }
  auto pp = decode_serf_push_pull(buf.subspan(1));
  if (!pp.ok()) {
    spdlog::error("serf: failed to decode remote state: {}", pp.status().to_string());
    return;
  }
  // Witness one less than theirs: their clock value itself may not have been used yet.
  if (pp->ltime > 0) clock.witness(pp->ltime - 1);
  if (pp->event_ltime > 0) event_clock.witness(pp->event_ltime - 1);
  if (pp->query_ltime > 0) query_clock.witness(pp->query_ltime - 1);

  for (const auto& name : pp->left_members) {
    auto st = pp->status_ltimes.find(name);
    const LamportTime lt = st == pp->status_ltimes.end() ? 0 : st->second;
    handle_leave_intent(SerfLeave{lt + 1, name, false}, now);
  }
  const auto self = members.find(config.node_name);
  const LamportTime self_ltime = self == members.end() ? 0 : self->second.status_ltime;
  for (const auto& [name, ltime] : pp->status_ltimes) {
    if (std::find(pp->left_members.begin(), pp->left_members.end(), name) !=
        pp->left_members.end()) {
      continue;
    }
    handle_join_intent(SerfJoin{ltime, name}, now);
    // A peer holds a newer intent about us than any we issued: a leave we never heard (it
    // would keep us "leaving" in its view for good). Serf only refutes a leave it hears;
    // we also refute one we can only infer, with a fresh join intent.
    if (name == config.node_name && ltime > self_ltime && lifecycle == SerfLifecycle::alive) {
      broadcast_join(clock.time(), now);
    }
  }

  // A join that asked not to replay old events: nothing before the peer's clock counts.
  if (join && event_join_ignore > 0 && pp->event_ltime > event_min_time) {
    event_min_time = pp->event_ltime;
  }
  for (const auto& batch : pp->events) {
    for (const auto& e : batch.events) {
      handle_user_event(SerfUserEvent{batch.ltime, e.name, e.payload, false});
    }
  }
}

void SerfState::notify_msg(ByteView buf, TimePoint now) {
  if (buf.empty()) return;
  const auto type = static_cast<SerfMessageType>(buf[0]);
  const ByteView body = buf.subspan(1);
  bool rebroadcast = false;
  switch (type) {
    case SerfMessageType::leave: {
      auto msg = decode_serf_leave(body);
      if (!msg.ok()) {
        spdlog::warn("serf: bad leave message: {}", msg.status().to_string());
        return;
      }
      rebroadcast = handle_leave_intent(*msg, now);
      break;
    }
    case SerfMessageType::join: {
      auto msg = decode_serf_join(body);
      if (!msg.ok()) {
        spdlog::warn("serf: bad join message: {}", msg.status().to_string());
        return;
      }
      rebroadcast = handle_join_intent(*msg, now);
      break;
    }
    case SerfMessageType::user_event: {
      auto msg = decode_serf_user_event(body);
      if (!msg.ok()) {
        spdlog::warn("serf: bad user event: {}", msg.status().to_string());
        return;
      }
      if (handle_user_event(*msg)) event_broadcasts.push(std::string(), Bytes(buf.begin(), buf.end()));
      return;
    }
    case SerfMessageType::query: {
      auto msg = decode_serf_query(body);
      if (!msg.ok()) {
        spdlog::warn("serf: bad query: {}", msg.status().to_string());
        return;
      }
      if (handle_query(*msg, now)) query_broadcasts.push(std::string(), Bytes(buf.begin(), buf.end()));
      return;
    }
    case SerfMessageType::query_response: {
      auto msg = decode_serf_query_response(body);
      if (!msg.ok()) {
        spdlog::warn("serf: bad query response: {}", msg.status().to_string());
        return;
      }
      handle_query_response(*msg);
      return;
    }
    case SerfMessageType::relay:
      handle_relay(body, now);
      return;
    default:
      spdlog::debug("serf: message of unknown type {}", static_cast<int>(type));
      return;
  }
  if (rebroadcast) queue_intent(Bytes(buf.begin(), buf.end()));
}

}  // namespace shoal::gossip
