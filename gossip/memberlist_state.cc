// The protocol rules of memberlist: how alive, suspect and dead messages and remote state
// change what we believe about each member. Mirrors memberlist 0.2's semantics exactly,
// because every member of a mixed serf/shoal cluster must reach the same conclusions.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "gossip/memberlist.h"
#include "gossip/wire.h"

namespace shoal::gossip {

namespace {

void set_vsn(NodeState& n, const VersionVector& v) {
  for (size_t i = 0; i < 6 && i < v.size(); ++i) n.vsn[i] = v[i];
}

bool same_vsn(const NodeState& n, const VersionVector& v) {
  return v.size() == 6 && std::equal(v.begin(), v.end(), n.vsn.begin());
}

}  // namespace

void Memberlist::broadcast(const std::string& node, Bytes msg, BroadcastQueue::Finished notify) {
  broadcasts_.push(node, std::move(msg), std::move(notify));
}

void Memberlist::alive_node(const Alive& a, bool bootstrap, TimePoint now,
                            BroadcastQueue::Finished notify) {
  NodeState* state = find(a.node);
  // After our own leave, ignore news that we are alive: we are going.
  if (left_ && a.node == opt_.name) return;

  if (a.vsn.size() >= 3) {
    const uint8_t pmin = a.vsn[0], pmax = a.vsn[1];
    if (pmin == 0 || pmax == 0 || pmin > pmax) {
      spdlog::warn("memberlist: ignoring alive for {}: bad protocol versions", a.node);
      return;
    }
  }
  auto addr = Address::from_bytes(a.addr, a.port);
  if (!addr.ok()) {
    drop("alive with bad address", Address{}, addr.status());
    return;
  }

  bool updates_node = false;
  if (state == nullptr) {
    state = new_node();
    state->name_ = pool_->name(a.node);
    state->addr_ = pool_->addr(*addr);
    state->meta_ = pool_->meta(a.meta);
    state->state = NodeStateType::dead;  // so the transition below reports a join
    set_vsn(*state, a.vsn);
    node_map_.insert(state);
    // Insert at a random position: new members get probed at an unpredictable time.
    const size_t n = nodes_.size();
    const size_t offset = n == 0 ? 0 : rng_.uniform(n);
    nodes_.push_back(state);
    std::swap(nodes_[offset], nodes_[n]);
  } else if (state->addr() != *addr) {
    if (state->state == NodeStateType::left) {
      spdlog::info("memberlist: updating address of left node {} from {} to {}", state->name(),
                   state->addr().to_string(), addr->to_string());
      updates_node = true;
    } else {
      spdlog::error("memberlist: conflicting address for {}: mine {} theirs {} (state {})",
                    state->name(), state->addr().to_string(), addr->to_string(),
                    to_string(state->state));
      NodeState other;
      other.name_ = pool_->name(a.node);
      other.addr_ = pool_->addr(*addr);
      other.meta_ = pool_->meta(a.meta);
      delegate_->notify_conflict(*state, other);
      return;
    }
  }

  const bool is_local = state->name() == opt_.name;
  if (a.incarnation <= state->incarnation && !is_local && !updates_node) return;
  if (a.incarnation < state->incarnation && is_local) return;

  suspicions_.erase(a.node);
  const NodeStateType old_state = state->state;
  const Bytes* old_meta = state->meta_;  // interned: same pointer, same bytes

  if (!bootstrap && is_local) {
    // Someone gossips about us. Identical news is an echo; anything else must be refuted.
    if (a.incarnation == state->incarnation && a.meta == state->meta() &&
        same_vsn(*state, a.vsn)) {
      return;
    }
    refute(*state, a.incarnation);
    spdlog::warn("memberlist: refuting an alive message about ourselves (incarnation {})",
                 a.incarnation);
  } else {
    if (!quiet_) broadcast(a.node, encode(a), std::move(notify));
    set_vsn(*state, a.vsn);
    state->incarnation = a.incarnation;
    state->meta_ = pool_->meta(a.meta);
    state->addr_ = pool_->addr(*addr);
    if (state->state != NodeStateType::alive) {
      state->state = NodeStateType::alive;
      state->state_change = now;
    }
  }

  if (old_state == NodeStateType::dead || old_state == NodeStateType::left) {
    if (!is_local && !quiet_) hasten_push_pull(now);
    delegate_->notify_join(*state, now);
  } else if (old_meta != state->meta_) {
    if (!is_local && !quiet_) hasten_push_pull(now);
    delegate_->notify_update(*state, now);
  }
}

void Memberlist::suspect_node(const Suspect& s, TimePoint now) {
  NodeState* state = find(s.node);
  if (state == nullptr) return;
  if (s.incarnation < state->incarnation) return;  // old news

  if (auto it = suspicions_.find(s.node); it != suspicions_.end()) {
    // Lifeguard: an independent confirmation shortens the timeout; spread it further.
    if (opt_.config.lifeguard && it->second.confirm(s.from)) broadcast(s.node, encode(s));
    return;
  }
  if (state->state != NodeStateType::alive) return;

  if (state == self_) {
    refute(*state, s.incarnation);
    spdlog::warn("memberlist: refuting a suspect message (from {})", s.from);
    return;
  }
  broadcast(s.node, encode(s));
  ++counters_.suspicions;

  state->incarnation = s.incarnation;
  state->state = NodeStateType::suspect;
  state->state_change = now;

  // k confirmations are wanted before the timeout reaches its minimum; in tiny clusters
  // there are not enough members to confirm, so go straight to the minimum.
  const int n = static_cast<int>(nodes_.size());
  int k = opt_.config.suspicion_mult - 2;
  if (n - 2 < k) k = 0;
  const double node_scale = std::max(1.0, std::log10(std::max(1.0, double(n))));
  const Duration min = std::chrono::duration_cast<Duration>(
      opt_.config.probe_interval * opt_.config.suspicion_mult *
      (static_cast<int64_t>(node_scale * 1000)) / 1000);
  // Without Lifeguard the timeout is fixed at the minimum, as in SWIM.
  const Duration max = opt_.config.lifeguard ? min * opt_.config.suspicion_max_timeout_mult : min;
  suspicions_.emplace(s.node, Suspicion(s.from, k, min, max, now));
}

void Memberlist::dead_node(const Dead& d, TimePoint now) {
  NodeState* state = find(d.node);
  if (state == nullptr) return;
  if (d.incarnation < state->incarnation) return;
  suspicions_.erase(d.node);
  if (state->dead_or_left()) return;

  if (state == self_) {
    if (!left_) {
      refute(*state, d.incarnation);
      spdlog::warn("memberlist: refuting a dead message (from {})", d.from);
      return;
    }
    broadcast(d.node, encode(d), std::move(leave_done_));
    leave_done_ = nullptr;
  } else {
    broadcast(d.node, encode(d));
  }

  state->incarnation = d.incarnation;
  state->state = d.node == d.from ? NodeStateType::left : NodeStateType::dead;
  state->state_change = now;
  delegate_->notify_leave(*state, now);
}

void Memberlist::refute(NodeState& me, uint32_t accused_incarnation) {
  ++counters_.refutations;
  uint32_t inc = next_incarnation();
  if (accused_incarnation >= inc) {
    incarnation_ = accused_incarnation + 1;
    inc = incarnation_;
  }
  me.incarnation = inc;
  // Being accused means others could not hear us: we may be the unhealthy one.
  awareness_.apply_delta(1);
  Alive a{inc, me.name(), me.addr().ip_vector(), me.addr().port, me.meta(), me.vsn_vector()};
  broadcast(me.name(), encode(a));
}

void Memberlist::merge_state(const std::vector<PushNodeState>& remote, TimePoint now) {
  for (const auto& r : remote) {
    switch (r.state) {
      case NodeStateType::alive:
        alive_node(Alive{r.incarnation, r.name, r.addr, r.port, r.meta, r.vsn}, false, now);
        break;
      case NodeStateType::left:
        dead_node(Dead{r.incarnation, r.name, r.name}, now);
        break;
      case NodeStateType::dead:
      case NodeStateType::suspect:
        // Dead in someone else's view is only suspect in ours: let it refute.
        suspect_node(Suspect{r.incarnation, r.name, opt_.name}, now);
        break;
    }
  }
}

void Memberlist::learn_quietly(const std::vector<PushNodeState>& members, TimePoint now) {
  quiet_ = true;
  for (const auto& r : members) {
    if (r.state != NodeStateType::alive || r.name == opt_.name) continue;
    alive_node(Alive{r.incarnation, r.name, r.addr, r.port, r.meta, r.vsn}, false, now);
  }
  quiet_ = false;
  // A member that already knows the cluster stands for one that has been in it a while, whose
  // push-pull timer runs at the interval scaled to the cluster's size. start() staggered the
  // first push-pull over the unscaled interval, as a fresh boot does: left alone, every node
  // of a converged 10,000-node start would push-pull its 10,000 entries within 30 s.
  stagger_scaled_push_pull(now);
}

Status Memberlist::verify_protocol(const std::vector<PushNodeState>& remote) const {
  uint8_t max_pmin = 0, min_pmax = std::numeric_limits<uint8_t>::max();
  uint8_t max_dmin = 0, min_dmax = std::numeric_limits<uint8_t>::max();
  auto widen = [&](uint8_t pmin, uint8_t pmax, uint8_t dmin, uint8_t dmax) {
    max_pmin = std::max(max_pmin, pmin);
    min_pmax = std::min(min_pmax, pmax);
    max_dmin = std::max(max_dmin, dmin);
    min_dmax = std::min(min_dmax, dmax);
  };
  for (const auto& r : remote) {
    if (r.state != NodeStateType::alive || r.vsn.size() < 6) continue;
    widen(r.vsn[0], r.vsn[1], r.vsn[3], r.vsn[4]);
  }
  for (const NodeState* n : nodes_) {
    if (n->state != NodeStateType::alive) continue;
    widen(n->vsn[0], n->vsn[1], n->vsn[3], n->vsn[4]);
  }
  for (const auto& r : remote) {
    const uint8_t pcur = r.vsn.size() >= 6 ? r.vsn[2] : 0;
    const uint8_t dcur = r.vsn.size() >= 6 ? r.vsn[5] : 0;
    if (pcur < max_pmin || pcur > min_pmax) {
      return Status::failed_precondition(
          fmt::format("node '{}' protocol version ({}) is incompatible: [{}, {}]", r.name, pcur,
                      max_pmin, min_pmax));
    }
    if (dcur < max_dmin || dcur > min_dmax) {
      return Status::failed_precondition(
          fmt::format("node '{}' delegate protocol version ({}) is incompatible: [{}, {}]",
                      r.name, dcur, max_dmin, min_dmax));
    }
  }
  return Status();
}

void Memberlist::reset_nodes(TimePoint now) {
  // Members dead for longer than gossip_to_the_dead_time are forgotten, then the probe
  // order is reshuffled (SWIM's round-robin with random permutations).
  const auto gone = [&](const NodeState* n) {
    return n != self_ && n->dead_or_left() &&
           now - n->state_change > opt_.config.gossip_to_the_dead_time;
  };
  for (NodeState*& n : nodes_) {
    if (gone(n)) {
      suspicions_.erase(n->name());
      node_map_.erase(n->name());
      release(n);
      n = nullptr;
    }
  }
  nodes_.erase(std::remove(nodes_.begin(), nodes_.end(), nullptr), nodes_.end());
  // A pool of our own holds what our members point to; the values of forgotten members
  // and old metas go once there are more than a few of them.
  if (pool_.use_count() == 1 && pool_->size() > 3 * nodes_.size() + 64) {
    std::unordered_set<const void*> live;
    for (const NodeState* m : nodes_) {
      live.insert(m->name_);
      live.insert(m->addr_);
      live.insert(m->meta_);
    }
    pool_->sweep([&](const void* p) { return live.count(p) > 0; });
  }
  for (size_t i = nodes_.size(); i > 1; --i) {
    std::swap(nodes_[i - 1], nodes_[rng_.uniform(i)]);
  }
}

Bytes Memberlist::local_push_pull(bool join) {
  PushPull pp;
  pp.join = join;
  pp.nodes.reserve(nodes_.size());
  for (const NodeState* n : nodes_) {
    pp.nodes.push_back(PushNodeState{n->name(), n->addr().ip_vector(), n->addr().port, n->meta(),
                                     n->incarnation, n->state, n->vsn_vector()});
  }
  pp.user_state = delegate_->local_state(join);
  return encode_push_pull(pp);
}

Status Memberlist::merge_remote_push_pull(ByteView body, bool /*expect_join_reply*/,
                                          TimePoint now) {
  auto pp = decode_push_pull(body);
  if (!pp.ok()) return pp.status();
  SHOAL_RETURN_IF_ERROR(verify_protocol(pp->nodes));
  merge_state(pp->nodes, now);
  if (!pp->user_state.empty()) delegate_->merge_remote_state(pp->user_state, pp->join, now);
  return Status();
}

}  // namespace shoal::gossip
