// The event loop: nodes, packets, streams and timers. Faults are in sim_faults.cc.
#include "simulations/sim_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace shoal::sim {

namespace {
constexpr uint64_t kFnvPrime = 1099511628211ULL;
constexpr Duration kJoinRetry = std::chrono::seconds(1);
}  // namespace

gossip::Address SimEngine::node_address(size_t i) {
  gossip::Address a;
  a.ip_len = 4;
  a.ip[0] = 10;
  a.ip[1] = static_cast<uint8_t>(i >> 16);
  a.ip[2] = static_cast<uint8_t>(i >> 8);
  a.ip[3] = static_cast<uint8_t>(i);
  a.port = 7946;
  return a;
}

size_t SimEngine::index_of(const gossip::Address& a) const {
  if (a.ip_len != 4 || a.ip[0] != 10 || a.port != 7946) return SIZE_MAX;
  const size_t i = (size_t(a.ip[1]) << 16) | (size_t(a.ip[2]) << 8) | a.ip[3];
  return i < n_ ? i : SIZE_MAX;
}

SimEngine::SimEngine(const Scenario& scenario, const RunOptions& options, NodeFactory factory)
    : sc_(scenario),
      opt_(options),
      factory_(std::move(factory)),
      n_(static_cast<size_t>(scenario.nodes)),
      rng_(options.seed),
      net_rng_(rng_.fork()),
      net_(n_, scenario.network),
      observer_(n_, [this](size_t o, size_t m) { return fair(o, m); }),
      slots_(n_) {
  for (size_t i = 0; i < n_; ++i) {
    slots_[i].id = NodeIdentity{i, node_name(i), node_address(i)};
    if (sc_.bandwidth > 0) net_.set_bandwidth(i, sc_.bandwidth);
  }
  // memberlist's suspicion bounds (memberlist_state.cc): min = mult * max(1, log10 n) *
  // probe interval, max = min * max_timeout_mult.
  const auto& g = sc_.gossip;
  const double scale = std::max(1.0, std::log10(double(std::max<size_t>(n_, 1))));
  grace_ = std::chrono::duration_cast<Duration>(g.probe_interval * g.suspicion_mult * scale *
                                                g.suspicion_max_timeout_mult) +
           g.probe_interval * g.awareness_max_multiplier;
  invariant_stride_ = opt_.invariant_stride != 0 ? opt_.invariant_stride
                                                 : (n_ <= 64 ? 1 : n_ / 2);  // O(n) each: keep the amortized cost O(1)
}

bool SimEngine::fair(size_t o, size_t m) const {
  if (!net_.connected(o, m) || degraded(m)) return false;
  const TimePoint recovered = std::max({slots_[m].recovered_at, slots_[m].frozen_until, net_recovered_at_});
  return recovered == TimePoint{} || now_ - recovered >= grace_;
}

void SimEngine::mix(uint64_t v) {
  for (int b = 0; b < 8; ++b) {
    report_.digest ^= (v >> (8 * b)) & 0xff;
    report_.digest *= kFnvPrime;
  }
}

void SimEngine::run() {
  report_.digest = 1469598103934665603ULL;
  end_ = kTimeZero + sc_.duration;
  // Node 0 bootstraps at t=0; the others boot at random times within the join window.
  for (size_t i = 0; i < n_; ++i) {
    Event e;
    e.kind = EventKind::start;
    e.node = static_cast<uint32_t>(i);
    const auto window = static_cast<uint64_t>(std::max<Duration::rep>(0, sc_.join_window.count()));
    e.at = i == 0 || window == 0 || sc_.warm_start ? kTimeZero
                                                   : kTimeZero + Duration(rng_.uniform(window + 1));
    queue_.push(std::move(e));
  }
  for (size_t f = 0; f < sc_.timeline.size(); ++f) {
    Event e;
    e.kind = EventKind::fault;
    e.id = f;
    e.at = kTimeZero + sc_.timeline[f].at;
    queue_.push(std::move(e));
  }
  {
    Event e;
    e.kind = EventKind::sample;
    e.at = kTimeZero + sc_.sample_interval;
    queue_.push(std::move(e));
  }
  {
    // The first convergence episode starts once the last node has booted.
    Event e;
    e.kind = EventKind::fault;
    e.id = UINT64_MAX;
    e.at = kTimeZero + sc_.join_window;
    queue_.push(std::move(e));
  }
  while (!queue_.empty() && queue_.next_time() <= end_) {
    Event e = queue_.pop();
    now_ = e.at;
    observer_.set_now(now_);
    ++report_.events;
    dispatch(e);
  }
  now_ = end_;
  observer_.set_now(now_);
  observer_.finish();
  report_.sim_seconds = to_seconds(sc_.duration);
}

void SimEngine::dispatch(Event& e) {
  switch (e.kind) {
    case EventKind::wake: {
      Slot& s = slots_[e.node];
      if (!s.up || e.gen != s.gen || e.at != s.wake_at) return;  // stale
      if (now_ < s.frozen_until) {
        s.wake_at = s.frozen_until;
        e.at = s.frozen_until;
        queue_.push(std::move(e));
        return;
      }
      s.wake_at = kTimeNever;
      s.core->tick(local(e.node));
      after_call(e.node);
      return;
    }
    case EventKind::packet: return on_packet(e);
    case EventKind::stream_open: return on_stream_open(e);
    case EventKind::stream_reply: return on_stream_reply(e);
    case EventKind::start: return start_node(e.node);
    case EventKind::join_retry: {
      Slot& s = slots_[e.node];
      if (!s.up || e.gen != s.gen) return;
      std::vector<gossip::Address> targets;
      join_targets(e.node, targets);
      if (targets.empty()) return;
      s.core->join(targets, local(e.node));
      after_call(e.node);
      return;
    }
    case EventKind::fault:
      if (e.id == UINT64_MAX) {
        observer_.open_episode("initial join");
      } else {
        apply_fault(sc_.timeline[e.id]);
      }
      return;
    case EventKind::sample: {
      take_sample();
      e.at = now_ + sc_.sample_interval;
      queue_.push(std::move(e));
      return;
    }
  }
}

bool SimEngine::hold_back(Event& e, Slot& s) {
  if (s.slow > Duration::zero() && !e.deferred) {
    e.deferred = true;
    e.at = now_ + s.slow;
    queue_.push(std::move(e));
    return true;
  }
  if (now_ < s.frozen_until) {
    e.at = s.frozen_until;
    queue_.push(std::move(e));
    return true;
  }
  return false;
}

void SimEngine::after_call(size_t i) {
  Slot& s = slots_[i];
  actions_.clear();
  s.core->take_actions(actions_);
  for (auto& a : actions_) {
    if (auto* p = std::get_if<gossip::SendPacket>(&a)) {
      send_packet(i, *p);
    } else if (auto* r = std::get_if<gossip::StreamRequest>(&a)) {
      open_stream(i, *r);
    } else if (auto* j = std::get_if<gossip::JoinDone>(&a)) {
      if (j->joined == 0) {
        Event e;
        e.kind = EventKind::join_retry;
        e.node = static_cast<uint32_t>(i);
        e.gen = s.gen;
        e.at = now_ + kJoinRetry;
        queue_.push(std::move(e));
      }
    } else if (std::holds_alternative<gossip::LeaveDone>(a)) {
      crash_node(i, /*killed=*/false);  // a clean shutdown after the leave went out
      return;
    }
  }
  if (++s.steps % invariant_stride_ == 0) s.core->check_invariants();
  reschedule(i);
}

void SimEngine::reschedule(size_t i) {
  Slot& s = slots_[i];
  if (!s.up) return;
  TimePoint w = s.clock.to_global(s.core->next_wakeup());
  if (w <= now_) {
    // The core wants a tick it just had; a real timer would fire at once and spin. Give
    // it the smallest step instead, and count how often it happens.
    ++report_.past_wakeups;
    w = now_ + sc_.tick_floor;
  }
  if (w >= s.wake_at || w > end_) return;
  s.wake_at = w;
  Event e;
  e.kind = EventKind::wake;
  e.node = static_cast<uint32_t>(i);
  e.gen = s.gen;
  e.at = w;
  queue_.push(std::move(e));
}

void SimEngine::send_packet(size_t from, gossip::SendPacket& p) {
  Slot& s = slots_[from];
  ++report_.packets_sent;
  report_.bytes_sent += p.data.size();
  ++s.msgs;
  s.bytes += p.data.size();
  const size_t to = index_of(p.to);
  if (to == SIZE_MAX) {
    ++report_.packets_lost;
    return;
  }
  arrivals_.clear();
  net_.route_packet(from, to, p.data.size(), now_, net_rng_, arrivals_);
  if (arrivals_.empty()) ++report_.packets_lost;
  for (size_t k = 0; k < arrivals_.size(); ++k) {
    Event e;
    e.kind = EventKind::packet;
    e.node = static_cast<uint32_t>(to);
    e.peer = static_cast<uint32_t>(from);
    e.at = arrivals_[k];
    e.data = k + 1 == arrivals_.size() ? std::move(p.data) : p.data;
    queue_.push(std::move(e));
  }
}

void SimEngine::on_packet(Event& e) {
  Slot& s = slots_[e.node];
  if (!s.up) {
    ++report_.packets_lost;
    return;
  }
  if (hold_back(e, s)) return;
  ++report_.packets_delivered;
  mix(static_cast<uint64_t>(now_.time_since_epoch().count()));
  mix((uint64_t(e.peer) << 32) | e.node);
  mix(e.data.size());
  s.core->handle_packet(slots_[e.peer].id.addr, e.data, local(e.node));
  after_call(e.node);
}

void SimEngine::reply_error(size_t to, uint32_t gen, uint64_t id, TimePoint at, Status error) {
  ++report_.streams_failed;
  Event e;
  e.kind = EventKind::stream_reply;
  e.node = static_cast<uint32_t>(to);
  e.gen = gen;
  e.id = id;
  e.at = at;
  e.error = std::move(error);
  queue_.push(std::move(e));
}

void SimEngine::open_stream(size_t from, gossip::StreamRequest& r) {
  Slot& s = slots_[from];
  ++report_.streams;
  ++s.msgs;
  s.bytes += r.data.size();
  report_.bytes_sent += r.data.size();
  const TimePoint deadline = now_ + std::max(r.timeout, Duration(1));
  const size_t to = index_of(r.to);
  if (to == SIZE_MAX) {
    if (r.expect_reply) reply_error(from, s.gen, r.id, deadline, Status::timeout("no route to host"));
    return;
  }
  if (!net_.connected(from, to)) {  // a handshake needs both directions
    if (r.expect_reply) reply_error(from, s.gen, r.id, deadline, Status::timeout("i/o timeout"));
    return;
  }
  const Duration there = net_.params(from, to).latency.sample(net_rng_);
  const Duration back = net_.params(to, from).latency.sample(net_rng_);
  if (!slots_[to].up) {
    if (r.expect_reply) {
      reply_error(from, s.gen, r.id, std::min(deadline, now_ + there + back),
                  Status::unavailable("connection refused"));
    }
    return;
  }
  // SYN, SYN-ACK, then the request itself.
  const TimePoint arrive = now_ + there + back + net_.stream_delay(from, to, r.data.size(), now_, net_rng_);
  if (arrive > deadline) {
    if (r.expect_reply) reply_error(from, s.gen, r.id, deadline, Status::timeout("i/o timeout"));
    return;
  }
  Event e;
  e.kind = EventKind::stream_open;
  e.node = static_cast<uint32_t>(to);
  e.peer = static_cast<uint32_t>(from);
  e.peer_gen = s.gen;
  e.id = r.id;
  e.expect_reply = r.expect_reply;
  e.deadline = deadline;
  e.at = arrive;
  e.data = std::move(r.data);
  queue_.push(std::move(e));
}

void SimEngine::on_stream_open(Event& e) {
  Slot& s = slots_[e.node];
  const size_t from = e.peer;
  if (!s.up) {
    if (e.expect_reply) reply_error(from, e.peer_gen, e.id, std::min(e.deadline, now_ + net_.params(e.node, from).latency.sample(net_rng_)), Status::unavailable("connection reset by peer"));
    return;
  }
  if (hold_back(e, s)) return;
  mix(static_cast<uint64_t>(now_.time_since_epoch().count()));
  mix((uint64_t(from) << 32) | e.node | (1ULL << 63));
  mix(e.data.size());
  auto reply = s.core->handle_stream(slots_[from].id.addr, e.data, local(e.node));
  after_call(e.node);
  if (!e.expect_reply) return;
  if (!reply) {
    reply_error(from, e.peer_gen, e.id, std::min(e.deadline, now_ + net_.params(e.node, from).latency.sample(net_rng_)),
                Status::io_error("stream closed without a reply"));
    return;
  }
  if (!net_.connected(e.node, from)) {
    reply_error(from, e.peer_gen, e.id, e.deadline, Status::timeout("i/o timeout"));
    return;
  }
  s.bytes += reply->size();
  report_.bytes_sent += reply->size();
  const TimePoint arrive = now_ + net_.stream_delay(e.node, from, reply->size(), now_, net_rng_);
  if (arrive > e.deadline) {
    reply_error(from, e.peer_gen, e.id, e.deadline, Status::timeout("i/o timeout"));
    return;
  }
  Event r;
  r.kind = EventKind::stream_reply;
  r.node = static_cast<uint32_t>(from);
  r.gen = e.peer_gen;
  r.id = e.id;
  r.at = arrive;
  r.data = std::move(*reply);
  queue_.push(std::move(r));
}

void SimEngine::on_stream_reply(Event& e) {
  Slot& s = slots_[e.node];
  if (!s.up || e.gen != s.gen) return;  // the asker crashed; its socket is gone
  if (hold_back(e, s)) return;
  Result<Bytes> reply = e.error.ok() ? Result<Bytes>(std::move(e.data)) : Result<Bytes>(std::move(e.error));
  s.core->handle_stream_reply(e.id, std::move(reply), local(e.node));
  after_call(e.node);
}

void SimEngine::join_targets(size_t i, std::vector<gossip::Address>& out) {
  for (int64_t k = 0; k < sc_.seeds && size_t(k) < n_; ++k) {
    if (size_t(k) != i) out.push_back(slots_[size_t(k)].id.addr);
  }
  if (!out.empty() && slots_[index_of(out[0])].up) return;
  // No seed, or the first seed is down: like a retry-join over a peer list, pick any
  // member the operator knows to be up.
  std::vector<size_t> up;
  for (size_t k = 0; k < n_; ++k) {
    if (k != i && slots_[k].up) up.push_back(k);
  }
  if (!up.empty()) out.push_back(slots_[up[rng_.uniform(up.size())]].id.addr);
}

void SimEngine::start_node(size_t i) {
  Slot& s = slots_[i];
  if (s.up) return;
  s.wake_at = kTimeNever;
  s.suspicions_seen = 0;
  observer_.node_up(i);
  NodeContext ctx;
  ctx.id = s.id;
  ctx.config = sc_.gossip;
  ctx.store = &s.store;
  ctx.sink = &observer_;
  ctx.rng = rng_.fork();
  ctx.now = local(i);
  ctx.pool = pool_;
  auto core = factory_(std::move(ctx));
  if (!core.ok()) {
    report_.checks.push_back({"start " + s.id.name, false, core.status().to_string()});
    return;
  }
  s.core = std::move(*core);
  s.up = true;
  if (sc_.warm_start && s.gen == 0) {
    s.core->learn_converged(converged_members(), local(i));
    after_call(i);
    return;
  }
  std::vector<gossip::Address> targets;
  if (i != 0 || s.gen > 0) join_targets(i, targets);
  if (!targets.empty()) s.core->join(targets, local(i));
  after_call(i);
}

const std::vector<gossip::PushNodeState>& SimEngine::converged_members() {
  if (converged_.empty()) {
    // What each memberlist core announces in start(): incarnation 1, no meta (the
    // memberlist engine's delegate has none), and the protocol versions it speaks.
    for (size_t k = 0; k < n_; ++k) {
      const auto& id = slots_[k].id;
      converged_.push_back(gossip::PushNodeState{
          id.name, id.addr.ip_vector(), id.addr.port, {}, 1, gossip::NodeStateType::alive,
          {kMemberlistProtocolMin, kMemberlistProtocolMax,
           kMemberlistProtocolCur, 0, 0, 0}});
    }
  }
  return converged_;
}

void SimEngine::crash_node(size_t i, bool killed) {
  Slot& s = slots_[i];
  if (!s.up) return;
  s.store.crash();  // what was not synced is gone
  s.up = false;
  ++s.gen;
  s.wake_at = kTimeNever;
  s.slow = Duration::zero();
  s.frozen_until = TimePoint{};
  s.suspicions_total += s.suspicions_seen;
  s.suspicions_seen = 0;
  s.core.reset();
  observer_.node_down(i, killed);
}

void SimEngine::take_sample() {
  uint64_t msgs = 0, bytes = 0, susp = 0;
  for (auto& s : slots_) {
    msgs += s.msgs;
    bytes += s.bytes;
    if (s.up) {
      const uint64_t now_susp = s.core->suspicions();
      susp += now_susp - s.suspicions_seen;
      s.suspicions_seen = now_susp;
    }
  }
  const double interval = to_seconds(sc_.sample_interval);
  const double t = to_seconds(now_ - kTimeZero);
  report_.samples.push_back(observer_.sample(t, msgs - last_msgs_, bytes - last_bytes_, susp, interval));
  last_msgs_ = msgs;
  last_bytes_ = bytes;
  if (opt_.csv) {
    for (size_t i = 0; i < n_; ++i) {
      const Slot& s = slots_[i];
      report_.csv += fmt::format("{:.3f},n{},{},{},{},{},{},{},{}\n", t, i, s.up ? 1 : 0,
                                 observer_.alive_seen(i), observer_.failed_seen(i),
                                 s.suspicions_total + s.suspicions_seen, s.msgs, s.bytes,
                                 s.up ? s.core->health_score() : 0);
    }
  }
}

}  // namespace shoal::sim
