// gossip::Serf: the public face of the membership layer. Routes input to memberlist,
// runs Serf's own timers (reap, reconnect) and the graceful-leave sequence.
#include "gossip/serf.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/check.h"
#include "gossip/encryption.h"
#include "gossip/serf_state.h"
#include "gossip/tags.h"
#include "gossip/wire.h"

namespace shoal::gossip {

Serf::Serf() = default;
Serf::~Serf() = default;

Result<std::unique_ptr<Serf>> Serf::create(SerfConfig config, Rng rng, TimePoint now) {
  if (config.node_name.empty()) return Status::invalid_argument("node name must not be empty");
  if (config.node_name.size() > 128) {
    return Status::invalid_argument("node name '" + config.node_name +
                                    "' is longer than 128 bytes");
  }
  if (!config.advertise.valid() || config.advertise.port == 0) {
    return Status::invalid_argument("advertise address must be an IP and a non-zero port");
  }
  auto meta = encode_tags(config.tags);
  if (!meta.ok()) return meta.status().with_context("tags");
  if (config.memberlist.keyring.enabled()) {
    if (Status s = encryption_available(); !s.ok()) return s;
  }

  std::unique_ptr<Serf> serf(new Serf());
  serf->state_ = std::make_unique<SerfState>(std::move(config), rng.fork());
  SerfState& s = *serf->state_;
  Memberlist::Options opt;
  opt.name = s.config.node_name;
  opt.advertise = s.config.advertise;
  opt.config = s.config.memberlist;
  opt.delegate_min = kSerfProtocolMin;
  opt.delegate_max = kSerfProtocolMax;
  opt.delegate_cur = s.config.protocol_version;
  s.memberlist = std::make_unique<Memberlist>(std::move(opt), &s, &s.outbox, rng.fork());

  // Lamport time 0 means "never"; every clock starts at 1, as Serf's do.
  s.clock.increment();
  s.event_clock.increment();
  s.query_clock.increment();
  s.clock.witness(s.config.restored_clock);
  s.event_clock.witness(s.config.restored_event_clock);
  s.query_clock.witness(s.config.restored_query_clock);
  // As serf after reading its snapshot: events and queries we saw before are not delivered
  // again (their Lamport times are at most the restored clocks).
  if (s.config.restored_event_clock > 0) {
    s.event_min_time = std::max(s.event_min_time, s.config.restored_event_clock + 1);
  }
  if (s.config.restored_query_clock > 0) {
    s.query_min_time = std::max(s.query_min_time, s.config.restored_query_clock + 1);
  }

  s.memberlist->start(now);
  s.next_reap = now + s.config.reap_interval;
  s.next_reconnect = now + s.config.reconnect_interval;
  return serf;
}

void Serf::handle_packet(const Address& from, ByteView data, TimePoint now) {
  state_->memberlist->handle_packet(from, data, now);
  if (state_->conflict_detected) state_->start_conflict_resolution(now);
}

std::optional<Bytes> Serf::handle_stream(const Address& from, ByteView message, TimePoint now) {
  auto reply = state_->memberlist->handle_stream(from, message, now);
  if (state_->conflict_detected) state_->start_conflict_resolution(now);
  return reply;
}

void Serf::handle_stream_reply(uint64_t id, Result<Bytes> reply, TimePoint now) {
  if (!state_->memberlist->handle_stream_reply(id, reply, now)) {
    spdlog::debug("serf: reply for unknown stream {}", id);
  }
}

namespace {

// The graceful leave: broadcast the intent, let memberlist say goodbye, linger so the
// news spreads, then tell the shell it may stop. Each step waits for its broadcast to go
// out or for broadcast_timeout, whichever comes first.
void advance_leave(SerfState& s, TimePoint now) {
  using Phase = SerfState::LeavePhase;
  for (;;) {
    switch (s.leave_phase) {
      case Phase::none:
      case Phase::done:
        return;
      case Phase::intent:
        if (!s.leave_intent_sent && now < s.leave_deadline) return;
        if (!s.leave_intent_sent) spdlog::warn("serf: timeout while waiting for leave intent");
        s.leave_phase = Phase::memberlist;
        s.leave_deadline = now + s.config.broadcast_timeout;
        s.memberlist->leave([&s] { s.leave_memberlist_done = true; }, now);
        continue;
      case Phase::memberlist:
        if (!s.leave_memberlist_done && now < s.leave_deadline) return;
        if (!s.leave_memberlist_done) spdlog::warn("serf: timeout waiting for leave broadcast");
        s.leave_phase = Phase::propagate;
        s.leave_deadline =
            now + (s.has_alive_members() ? s.config.leave_propagate_delay : Duration::zero());
        continue;
      case Phase::propagate:
        if (now < s.leave_deadline) return;
        s.leave_phase = Phase::done;
        s.leave_deadline = kTimeNever;
        s.lifecycle = SerfLifecycle::left;
        spdlog::info("serf: left the cluster");
        s.outbox.push_back(LeaveDone{});
        return;
    }
  }
}

}  // namespace

void Serf::tick(TimePoint now) {
  SerfState& s = *state_;
  s.memberlist->tick(now);
  if (s.conflict_detected) s.start_conflict_resolution(now);
  s.expire_queries(now);
  if (s.lifecycle == SerfLifecycle::alive) {
    if (s.next_reap <= now) {
      s.next_reap = now + s.config.reap_interval;
      s.reap(now);
    }
    if (s.next_reconnect <= now) {
      s.next_reconnect = now + s.config.reconnect_interval;
      s.reconnect(now);
    }
  }
  advance_leave(s, now);
}

TimePoint Serf::next_wakeup() const {
  const SerfState& s = *state_;
  TimePoint t = s.memberlist->next_wakeup();
  if (s.lifecycle == SerfLifecycle::alive) t = std::min({t, s.next_reap, s.next_reconnect});
  return std::min({t, s.leave_deadline, s.next_query_deadline()});
}

uint64_t Serf::join(const std::vector<Address>& addrs, bool ignore_old, TimePoint now) {
  SerfState& s = *state_;
  const uint64_t id = ++s.next_join_id;
  if (ignore_old) ++s.event_join_ignore;
  s.memberlist->join(addrs, [&s, id, now, ignore_old](int joined, std::vector<std::string> errors) {
    if (ignore_old) --s.event_join_ignore;
    // Tell the cluster we are (back) in, with a fresh Lamport time.
    if (joined > 0) s.broadcast_join(s.clock.time(), now);
    s.outbox.push_back(JoinDone{id, joined, std::move(errors)});
  }, now);
  return id;
}

void Serf::leave(TimePoint now) {
  SerfState& s = *state_;
  if (s.leave_phase != SerfState::LeavePhase::none) return;
  s.lifecycle = SerfLifecycle::leaving;
  SerfLeave msg{s.clock.time(), s.config.node_name, false};
  s.queue_intent(encode_serf(msg), [&s] { s.leave_intent_sent = true; });
  s.handle_leave_intent(msg, now);
  s.leave_phase = SerfState::LeavePhase::intent;
  s.leave_deadline = now + s.config.broadcast_timeout;
  if (!s.has_alive_members()) s.leave_intent_sent = true;  // nobody to wait for
  advance_leave(s, now);
}

Status Serf::set_tags(std::map<std::string, std::string> tags, TimePoint now) {
  auto meta = encode_tags(tags);
  if (!meta.ok()) return meta.status().with_context("tags");
  state_->config.tags = std::move(tags);
  state_->memberlist->update_meta(now);
  return Status();
}

Status Serf::force_leave(const std::string& node, bool prune, TimePoint now) {
  SerfState& s = *state_;
  auto it = s.members.find(node);
  if (it == s.members.end()) return Status::not_found("no member named '" + node + "'");
  if (node == s.config.node_name) {
    return Status::invalid_argument("cannot force-leave ourselves; use leave");
  }
  if (it->second.member.status == MemberStatus::alive) {
    return Status::failed_precondition("member '" + node +
                                       "' is alive; only failed members can be forced to leave");
  }
  SerfLeave msg{s.clock.time(), node, prune};
  s.clock.increment();
  s.handle_leave_intent(msg, now);
  if (s.has_alive_members()) s.queue_intent(encode_serf(msg));
  return Status();
}

Status Serf::user_event(const std::string& name, Bytes payload, bool coalesce, TimePoint now) {
  return state_->user_event(name, std::move(payload), coalesce, now);
}

Result<QueryStarted> Serf::query(const std::string& name, Bytes payload,
                                 const QueryParams& params, TimePoint now) {
  return state_->query(name, std::move(payload), params, now);
}

Status Serf::respond(uint64_t token, Bytes payload, TimePoint now) {
  return state_->respond(token, std::move(payload), now);
}

Duration Serf::default_query_timeout() const { return state_->default_query_timeout(); }

void Serf::set_internal_query_handler(std::string name, InternalQueryHandler handler) {
  state_->internal_queries[std::move(name)] = std::move(handler);
}

std::vector<Action> Serf::take_actions() {
  std::vector<Action> out;
  out.swap(state_->outbox);
  return out;
}

std::vector<Member> Serf::members() const {
  std::vector<Member> out;
  out.reserve(state_->members.size());
  for (const auto& [name, ms] : state_->members) out.push_back(ms.member);
  return out;
}

Member Serf::local_member() const {
  const SerfState& s = *state_;
  auto it = s.members.find(s.config.node_name);
  Member m = it != s.members.end() ? it->second.member : Member{};
  m.name = s.config.node_name;
  m.addr = s.config.advertise;
  m.tags = s.config.tags;
  switch (s.lifecycle) {
    case SerfLifecycle::alive: m.status = MemberStatus::alive; break;
    case SerfLifecycle::leaving: m.status = MemberStatus::leaving; break;
    case SerfLifecycle::left: m.status = MemberStatus::left; break;
  }
  return m;
}

const SerfConfig& Serf::config() const { return state_->config; }
Keyring& Serf::keyring() { return state_->memberlist->keyring(); }
const Keyring& Serf::keyring() const { return state_->memberlist->keyring(); }

SerfStats Serf::stats() const {
  const SerfState& s = *state_;
  SerfStats st;
  st.memberlist = s.memberlist->counters();
  st.health_score = s.memberlist->health_score();
  st.member_ltime = s.clock.time();
  st.event_ltime = s.event_clock.time();
  st.query_ltime = s.query_clock.time();
  st.user_events = s.user_events_delivered;
  st.user_events_too_old = s.user_events_too_old;
  st.queries = s.queries_seen;
  st.event_queue = s.event_broadcasts.size();
  st.query_queue = s.query_broadcasts.size();
  return st;
}

size_t Serf::num_alive() const {
  size_t n = 0;
  for (const auto& [name, ms] : state_->members) n += ms.member.status == MemberStatus::alive;
  return n;
}

size_t Serf::num_gossip_members() const { return state_->memberlist->num_alive(); }

bool Serf::has_left() const { return state_->lifecycle == SerfLifecycle::left; }

void Serf::check_invariants() const {
  const SerfState& s = *state_;
  s.memberlist->check_invariants();
  for (const auto& name : s.failed_members) {
    auto it = s.members.find(name);
    SHOAL_CHECK(it != s.members.end() && it->second.member.status == MemberStatus::failed,
                "failed list holds a member that is not failed");
  }
  for (const auto& name : s.left_members) {
    auto it = s.members.find(name);
    SHOAL_CHECK(it != s.members.end() && it->second.member.status == MemberStatus::left,
                "left list holds a member that has not left");
  }
}

}  // namespace shoal::gossip
