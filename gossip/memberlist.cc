// Probing, gossip rounds, push-pull scheduling and timers: the "when" of memberlist.
#include "gossip/memberlist.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <cmath>

#include "base/check.h"
#include "gossip/wire.h"

namespace shoal::gossip {

namespace {

constexpr size_t kPushPullScaleThreshold = 32;

// Push-pull slows down past 32 members so the TCP load per node stays about constant.
Duration push_pull_scale(Duration interval, size_t n) {
  if (n <= kPushPullScaleThreshold) return interval;
  const double mult =
      std::ceil(std::log2(static_cast<double>(n)) - std::log2(double(kPushPullScaleThreshold))) +
      1.0;
  return interval * static_cast<int64_t>(mult);
}

Duration random_stagger(Rng& rng, Duration interval) {
  if (interval.count() <= 0) return Duration::zero();
  return Duration(static_cast<Duration::rep>(rng.uniform(static_cast<uint64_t>(interval.count()))));
}

}  // namespace

std::string_view to_string(NodeStateType s) {
  switch (s) {
    case NodeStateType::alive: return "alive";
    case NodeStateType::suspect: return "suspect";
    case NodeStateType::dead: return "dead";
    case NodeStateType::left: return "left";
  }
  return "unknown";
}

Memberlist::Memberlist(Options options, MemberlistDelegate* delegate, std::vector<Action>* outbox,
                       Rng rng)
    : opt_(std::move(options)),
      delegate_(delegate),
      out_(outbox),
      rng_(rng),
      pool_(opt_.pool ? opt_.pool : std::make_shared<InternPool>()),
      awareness_(opt_.config.lifeguard ? opt_.config.awareness_max_multiplier : 1) {}

void Memberlist::start(TimePoint now) {
  assert(!started_);
  started_ = true;
  Alive a;
  a.incarnation = next_incarnation();
  a.node = opt_.name;
  a.addr = opt_.advertise.ip_vector();
  a.port = opt_.advertise.port;
  a.meta = delegate_->node_meta(kMetaMaxSize);
  a.vsn = {kMemberlistProtocolMin, kMemberlistProtocolMax, opt_.protocol_version,
           opt_.delegate_min,      opt_.delegate_max,      opt_.delegate_cur};
  alive_node(a, /*bootstrap=*/true, now);
  self_ = find(opt_.name);
  assert(self_ != nullptr);

  const auto& c = opt_.config;
  next_probe_ = now + random_stagger(rng_, c.probe_interval);
  next_gossip_ = now + random_stagger(rng_, c.gossip_interval);
  next_push_pull_ = now + random_stagger(rng_, c.push_pull_interval);
}

void Memberlist::stagger_scaled_push_pull(TimePoint now) {
  next_push_pull_ =
      now + random_stagger(rng_, push_pull_scale(opt_.config.push_pull_interval, nodes_.size()));
}

const std::string NodeState::kNoName;
const Address NodeState::kNoAddress;
const Bytes NodeState::kNoMeta;

NodeState* Memberlist::find(const std::string& name) { return node_map_.find(name); }

const NodeState* Memberlist::node(const std::string& name) const { return node_map_.find(name); }

NodeState* Memberlist::new_node() {
  if (free_.empty()) return &store_.emplace_back();
  NodeState* n = free_.back();
  free_.pop_back();
  return n;
}

void Memberlist::release(NodeState* n) {
  *n = NodeState{};
  free_.push_back(n);
}

size_t Memberlist::num_alive() const {
  size_t n = 0;
  for (const auto& node : nodes_) n += node->dead_or_left() ? 0 : 1;
  return n;
}

TimePoint Memberlist::next_wakeup() const {
  TimePoint t = std::min(next_gossip_, next_push_pull_);
  // One probe at a time: while one is in flight (Lifeguard may stretch it past the next
  // probe slot), its deadline is what matters; the next probe starts when it ends.
  if (probe_) {
    t = std::min(t, probe_->indirect_sent ? probe_->final_deadline : probe_->direct_deadline);
  } else {
    t = std::min(t, next_probe_);
  }
  for (const auto& [seq, relay] : relays_) t = std::min(t, relay.nack_at);
  for (const auto& [name, s] : suspicions_) t = std::min(t, s.deadline());
  return t;
}

void Memberlist::tick(TimePoint now) {
  if (!started_) return;
  // Suspicions that ran out: the member is dead. Collect first: dead_node edits the map.
  std::vector<std::string> expired;
  for (const auto& [name, s] : suspicions_) {
    if (s.deadline() <= now) expired.push_back(name);
  }
  for (const auto& name : expired) {
    NodeState* n = find(name);
    const auto& s = suspicions_.at(name);
    if (n && n->state == NodeStateType::suspect && n->state_change == s.start()) {
      spdlog::info("memberlist: marking {} as failed, suspect timeout reached ({} confirmations)",
                   name, s.confirmations());
      dead_node(Dead{n->incarnation, n->name(), opt_.name}, now);
    }
    suspicions_.erase(name);
  }

  // Relayed probes whose target stayed silent: tell the requester with a nack.
  for (auto it = relays_.begin(); it != relays_.end();) {
    if (it->second.nack_at <= now) {
      if (it->second.want_nack) send_msg(it->second.requester, encode(Nack{it->second.their_seq}));
      it = relays_.erase(it);
    } else {
      ++it;
    }
  }

  if (probe_) {
    if (!probe_->indirect_sent && probe_->direct_deadline <= now) probe_direct_timeout(now);
    if (probe_ && probe_->indirect_sent && probe_->final_deadline <= now) probe_finish(false, now);
  }
  if (next_probe_ <= now && !probe_) {
    next_probe_ += opt_.config.probe_interval;
    if (next_probe_ <= now) next_probe_ = now + opt_.config.probe_interval;
    probe(now);
  }
  if (next_gossip_ <= now) {
    next_gossip_ += opt_.config.gossip_interval;
    if (next_gossip_ <= now) next_gossip_ = now + opt_.config.gossip_interval;
    gossip(now);
  }
  if (next_push_pull_ <= now) {
    next_push_pull_ = now + push_pull_scale(opt_.config.push_pull_interval, nodes_.size());
    push_pull(now);
  }
}

std::vector<NodeState*> Memberlist::random_nodes(
    size_t k, const std::function<bool(const NodeState&)>& skip) {
  std::vector<NodeState*> picked;
  const size_t n = nodes_.size();
  for (size_t i = 0; i < 3 * n && picked.size() < k; ++i) {
    NodeState* node = nodes_[rng_.uniform(n)];
    if (skip(*node)) continue;
    if (std::find(picked.begin(), picked.end(), node) != picked.end()) continue;
    picked.push_back(node);
  }
  return picked;
}

void Memberlist::probe(TimePoint now) {
  for (size_t checked = 0; checked < nodes_.size();) {
    if (probe_index_ >= nodes_.size()) {
      reset_nodes(now);
      probe_index_ = 0;
      ++checked;
      continue;
    }
    NodeState& node = *nodes_[probe_index_++];
    if (&node == self_ || node.dead_or_left()) {
      ++checked;
      continue;
    }
    probe_node(node, now);
    return;
  }
}

void Memberlist::probe_node(NodeState& node, TimePoint now) {
  ++counters_.probes;
  Probe p;
  p.node = node.name();
  p.seq = next_seq();
  p.sent = now;
  p.direct_deadline = now + opt_.config.probe_timeout;
  p.final_deadline = now + awareness_.scale(opt_.config.probe_interval);

  Ping ping{p.seq, node.name(), opt_.advertise.ip_vector(), opt_.advertise.port, opt_.name};
  if (node.state == NodeStateType::alive || !opt_.config.lifeguard) {
    send_msg(node.addr(), encode(ping), &node);
  } else {
    // A suspect gets the accusation with the ping, so it can refute at once.
    std::vector<Bytes> msgs{encode(ping),
                            encode(Suspect{node.incarnation, node.name(), opt_.name})};
    send_raw(node.addr(), make_compound(msgs), &node);
  }
  probe_ = std::move(p);
}

void Memberlist::probe_direct_timeout(TimePoint now) {
  Probe& p = *probe_;
  p.indirect_sent = true;
  NodeState* target = find(p.node);
  if (target == nullptr) {
    probe_.reset();
    return;
  }
  IndirectPing ind{p.seq, target->addr().ip_vector(), target->addr().port, target->name(), false,
                   opt_.advertise.ip_vector(), opt_.advertise.port, opt_.name};
  auto helpers = random_nodes(opt_.config.indirect_checks, [&](const NodeState& n) {
    return &n == self_ || n.name() == p.node || n.state != NodeStateType::alive;
  });
  for (NodeState* helper : helpers) {
    ind.nack = opt_.config.lifeguard && helper->pmax() >= 4;
    if (ind.nack) ++p.expected_nacks;
    send_msg(helper->addr(), encode(ind), helper);
  }
  // TCP fallback: a member behind a UDP-eating firewall is not dead, just misconfigured.
  if (!opt_.config.disable_tcp_pings && target->pmax() >= 3 && p.final_deadline > now) {
    Ping ping{p.seq, target->name(), opt_.advertise.ip_vector(), opt_.advertise.port, opt_.name};
    p.tcp_stream = open_stream(target->addr(), encode(ping), /*expect_reply=*/true,
                               PendingStream{StreamKind::tcp_ping, 0, target->addr().to_string()},
                               p.final_deadline - now);
  }
}

void Memberlist::probe_finish(bool success, TimePoint now) {
  Probe p = std::move(*probe_);
  probe_.reset();
  if (p.tcp_stream != 0) streams_.erase(p.tcp_stream);
  if (success || p.tcp_ok) {
    if (!success) {
      spdlog::warn("memberlist: reached {} over TCP but not UDP; the network may be misconfigured",
                   p.node);
    }
    awareness_.apply_delta(-1);
    return;
  }
  ++counters_.probe_failures;
  // Lifeguard: missed nacks mean *our* links may be the problem; raise our own timeouts.
  int delta = 0;
  if (p.expected_nacks > 0) {
    if (p.nacks < p.expected_nacks) delta += p.expected_nacks - p.nacks;
  } else {
    delta += 1;
  }
  awareness_.apply_delta(delta);
  NodeState* target = find(p.node);
  if (target == nullptr) return;
  spdlog::info("memberlist: suspect {} has failed, no acks received", p.node);
  suspect_node(Suspect{target->incarnation, target->name(), opt_.name}, now);
}

void Memberlist::gossip(TimePoint now) {
  auto targets = random_nodes(opt_.config.gossip_nodes, [&](const NodeState& n) {
    if (&n == self_) return true;
    switch (n.state) {
      case NodeStateType::alive:
      case NodeStateType::suspect:
        return false;
      case NodeStateType::dead:
        return now - n.state_change > opt_.config.gossip_to_the_dead_time;
      default:
        return true;
    }
  });
  const size_t avail = opt_.config.udp_buffer_size - kCompoundHeaderOverhead;
  for (NodeState* node : targets) {
    auto msgs = get_broadcasts(kCompoundOverhead, avail, kMaxCompoundParts);
    if (msgs.empty()) return;
    if (msgs.size() == 1) {
      send_raw(node->addr(), std::move(msgs[0]), node);
    } else {
      send_raw(node->addr(), make_compound(msgs), node);
    }
  }
}

void Memberlist::push_pull(TimePoint /*now*/) {
  auto picked = random_nodes(1, [&](const NodeState& n) {
    return &n == self_ || n.state != NodeStateType::alive;
  });
  if (picked.empty()) return;
  ++counters_.push_pulls;
  open_stream(picked[0]->addr(), local_push_pull(false), /*expect_reply=*/true,
              PendingStream{StreamKind::push_pull, 0, picked[0]->addr().to_string()},
              opt_.config.tcp_timeout);
}

// Gossip spreads a join (or a tag change) to everyone only with high probability: each
// broadcast goes out a bounded number of times, and in a burst a member can miss one, then
// list an alive peer as unknown (or with old tags) until the next push-pull (30 s on LAN;
// more past 32 members). So after hearing such news we pull a peer's full state within two
// probe intervals, at most once per push-pull interval. Push-pull is ordinary memberlist traffic: serf peers see
// nothing new, just one extra sync per node after a burst of joins.
void Memberlist::hasten_push_pull(TimePoint now) {
  if (!started_) return;
  const Duration interval = opt_.config.push_pull_interval;
  if (last_hastened_push_pull_ != kTimeZero && now - last_hastened_push_pull_ < interval) return;
  const TimePoint soon = now + opt_.config.probe_interval * 2;
  if (soon >= next_push_pull_) return;
  last_hastened_push_pull_ = soon;
  next_push_pull_ = soon;
}

void Memberlist::join(const std::vector<Address>& addrs, JoinCallback done, TimePoint /*now*/) {
  const uint64_t op = ++next_join_op_;
  JoinOp& j = joins_[op];
  j.done = std::move(done);
  j.remaining = static_cast<int>(addrs.size());
  if (addrs.empty()) {
    auto cb = std::move(j.done);
    joins_.erase(op);
    cb(0, {});
    return;
  }
  for (const auto& addr : addrs) {
    ++counters_.push_pulls;
    open_stream(addr, local_push_pull(true), /*expect_reply=*/true,
                PendingStream{StreamKind::join_push_pull, op, addr.to_string()},
                opt_.config.tcp_timeout);
  }
}

void Memberlist::finish_join_stream(uint64_t op, const std::string& addr, const Status& result) {
  auto it = joins_.find(op);
  if (it == joins_.end()) return;
  JoinOp& j = it->second;
  if (result.ok()) {
    ++j.joined;
  } else {
    j.errors.push_back(addr + ": " + result.to_string());
  }
  if (--j.remaining == 0) {
    auto cb = std::move(j.done);
    int joined = j.joined;
    auto errors = std::move(j.errors);
    joins_.erase(it);
    cb(joined, std::move(errors));
  }
}

void Memberlist::update_meta(TimePoint now) {
  Alive a;
  a.incarnation = next_incarnation();
  a.node = opt_.name;
  a.addr = self_->addr().ip_vector();
  a.port = self_->addr().port;
  a.meta = delegate_->node_meta(kMetaMaxSize);
  a.vsn = self_->vsn_vector();
  alive_node(a, /*bootstrap=*/true, now);
}

void Memberlist::leave(std::function<void()> done, TimePoint now) {
  if (left_) {
    if (done) done();
    return;
  }
  left_ = true;
  bool any_alive = false;
  for (const NodeState* n : nodes_) any_alive |= (n != self_ && !n->dead_or_left());
  if (!any_alive) {
    dead_node(Dead{self_->incarnation, opt_.name, opt_.name}, now);
    if (done) done();
    return;
  }
  leave_done_ = std::move(done);
  dead_node(Dead{self_->incarnation, opt_.name, opt_.name}, now);
}

void Memberlist::forget(const std::string& name) {
  NodeState* n = find(name);
  if (n == nullptr || n == self_ || !n->dead_or_left()) return;
  suspicions_.erase(name);
  node_map_.erase(name);
  auto it = std::find(nodes_.begin(), nodes_.end(), n);
  const size_t idx = static_cast<size_t>(it - nodes_.begin());
  nodes_.erase(it);
  if (probe_index_ > idx) --probe_index_;
  release(n);
}

void Memberlist::check_invariants() const {
  SHOAL_CHECK(node_map_.size() == nodes_.size(), "node map and probe list disagree");
  for (const NodeState* n : nodes_) {
    SHOAL_CHECK(node_map_.find(n->name()) == n, "node missing from map");
  }
  for (const auto& [name, s] : suspicions_) {
    SHOAL_CHECK(node_map_.find(name) != nullptr, "suspicion of an unknown node");
    (void)s;
  }
  SHOAL_CHECK(self_ == nullptr || self_->state == NodeStateType::alive || left_,
              "we consider ourselves dead without having left");
  SHOAL_CHECK(awareness_.score() >= 0 &&
                  awareness_.score() < opt_.config.awareness_max_multiplier,
              "health score out of range");
}

}  // namespace shoal::gossip
