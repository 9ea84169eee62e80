// What happens to a Raft group: timeline faults from the scenario, the random nemesis, the
// operator's membership changes (reconcile), and the quiet phase that undoes every fault.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "simulations/raft/raft_cluster.h"

namespace shoal::sim {

NodeSet RaftCluster::to_set(const std::vector<size_t>& nodes) const {
  NodeSet s(n_);
  for (size_t i : nodes) s.add(i);
  return s;
}

std::vector<size_t> RaftCluster::resolve(const NodeSelector& sel, const std::vector<size_t>& exclude) {
  return sel.resolve(n_, exclude, rng_);
}

std::vector<size_t> RaftCluster::members(bool voters_only) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < n_; ++i) {
    if (!voters_only || want_voters_.count(i)) out.push_back(i);
  }
  return out;
}

void RaftCluster::apply_fault(const FaultEvent& f) {
  using K = FaultEvent::Kind;
  const std::vector<size_t> nodes = resolve(f.nodes, {});
  std::string label = fmt::format("{} n{}", to_string(f.kind), fmt::join(nodes, ",n"));
  switch (f.kind) {
    case K::kill:
      for (size_t i : nodes) crash_node(i);
      break;
    case K::restart:
      for (size_t i : nodes) {
        crash_node(i);
        start_node(i);
      }
      break;
    case K::partition:
      net_.add_partition(Partition{f.name, to_set(nodes), to_set(resolve(f.others, nodes)), f.one_way});
      break;
    case K::heal:
      net_.heal(f.name);
      label = "heal " + (f.name.empty() ? std::string("all") : f.name);
      break;
    case K::slow:
      for (size_t i : nodes) nodes_[i].slow = f.delay;
      break;
    case K::unslow:
      for (size_t i : nodes) nodes_[i].slow = Duration::zero();
      break;
    case K::pause:
      for (size_t i : nodes) nodes_[i].frozen_until = now_ + f.delay;
      break;
    case K::link:
      net_.add_rule(LinkRule{f.name, to_set(nodes), to_set(resolve(f.others, nodes)), !f.one_way, f.link});
      break;
    case K::clear_link:
      net_.remove_rules(f.name);
      label = "clear link " + (f.name.empty() ? std::string("all") : f.name);
      break;
    case K::skew:
      for (size_t i : nodes) {
        nodes_[i].clock.set(now_, f.drift_ppm, f.delay);
        if (nodes_[i].up) step(i, raft::Tick{});  // re-arm its timer in the new time scale
      }
      break;
    case K::add_voter:
      for (size_t i : nodes) want_voters_.insert(i);
      break;
    case K::remove:
      for (size_t i : nodes) {
        if (want_voters_.size() > 1) want_voters_.erase(i);
      }
      break;
    case K::transfer:
      if (auto l = leader(); l && !nodes.empty() && nodes[0] != *l) {
        ++transfers_;
        step(*l, raft::TransferLeadership{nodes_[nodes[0]].id});
      }
      break;
    case K::leave:
    case K::bandwidth:
    case K::event:
      break;  // refused by Scenario::validate() for raft runs
  }
  report_.faults.emplace_back(to_seconds(now_ - kTimeZero), label);
}

void RaftCluster::nemesis() {
  const std::string& kind = p_.nemesis[rng_.uniform(p_.nemesis.size())];
  const Duration lasting = p_.nemesis_every / 2 + Duration(rng_.uniform(uint64_t(p_.nemesis_every.count()) * 2));
  const uint64_t id = next_undo_++;
  std::string label = kind;
  if (kind == "kill") {
    std::vector<size_t> up;
    for (size_t i = 0; i < n_; ++i) {
      if (nodes_[i].up) up.push_back(i);
    }
    if (up.empty()) return;
    const size_t v = up[rng_.uniform(up.size())];
    crash_node(v);
    undos_[id] = [this, v] { start_node(v); };
    label = fmt::format("kill n{}", v);
  } else if (kind == "partition" || kind == "isolate_leader") {
    std::vector<size_t> side;
    if (kind == "isolate_leader") {
      auto l = leader();
      if (!l) return;
      side.push_back(*l);
    } else {
      std::vector<size_t> all = members(false);
      const size_t k = 1 + rng_.uniform(std::max<size_t>(1, n_ / 2));
      for (size_t j = 0; j < k; ++j) std::swap(all[j], all[j + rng_.uniform(all.size() - j)]);
      side.assign(all.begin(), all.begin() + ptrdiff_t(k));
      std::sort(side.begin(), side.end());
    }
    const std::string name = fmt::format("nemesis-{}", id);
    NodeSet a = to_set(side);
    net_.add_partition(Partition{name, a, a.complement(), false});
    undos_[id] = [this, name] { net_.heal(name); };
    label = fmt::format("partition n{} from the rest", fmt::join(side, ",n"));
  } else if (kind == "loss") {
    const std::string name = fmt::format("nemesis-{}", id);
    LinkOverride o;
    o.loss = 0.1 + 0.3 * rng_.uniform01();
    o.reorder = 0.3;
    o.duplicate = 0.05;
    net_.add_rule(LinkRule{name, NodeSet(n_, true), NodeSet(n_, true), true, o});
    undos_[id] = [this, name] { net_.remove_rules(name); };
    label = fmt::format("loss {:.0f}%", *o.loss * 100);
  } else if (kind == "pause") {
    const size_t v = rng_.uniform(n_);
    nodes_[v].frozen_until = std::max(nodes_[v].frozen_until, now_ + lasting);
    label = fmt::format("pause n{} for {}", v, format_duration(lasting));
  } else if (kind == "membership") {
    std::vector<size_t> in(want_voters_.begin(), want_voters_.end()), out;
    for (size_t i = 0; i < n_; ++i) {
      if (!want_voters_.count(i)) out.push_back(i);
    }
    if (out.empty()) return;
    const size_t add = out[rng_.uniform(out.size())], drop = in[rng_.uniform(in.size())];
    want_voters_.insert(add);
    want_voters_.erase(drop);
    label = fmt::format("replace voter n{} by n{}", drop, add);
  } else if (kind == "transfer") {
    auto l = leader();
    if (!l) return;
    std::vector<size_t> others;
    for (size_t v : want_voters_) {
      if (v != *l) others.push_back(v);
    }
    if (others.empty()) return;
    const size_t to = others[rng_.uniform(others.size())];
    ++transfers_;
    step(*l, raft::TransferLeadership{nodes_[to].id});
    label = fmt::format("transfer n{} -> n{}", *l, to);
  } else if (kind == "skew") {
    const size_t v = rng_.uniform(n_);
    const int64_t ppm = int64_t(rng_.uniform(100'001)) - 50'000;
    nodes_[v].clock.set(now_, ppm, Duration(rng_.uniform(uint64_t(std::chrono::nanoseconds(std::chrono::milliseconds(500)).count()))));
    if (nodes_[v].up) step(v, raft::Tick{});
    undos_[id] = [this, v] {
      nodes_[v].clock.set(now_, 0, Duration::zero());
      if (nodes_[v].up) step(v, raft::Tick{});
    };
    label = fmt::format("skew n{} {}ppm", v, ppm);
  }
  if (undos_.count(id)) push(Ev{now_ + lasting, 0, Kind::undo, 0, 0, id, nullptr});
  report_.faults.emplace_back(to_seconds(now_ - kTimeZero), "nemesis: " + label);
}

void RaftCluster::undo(uint64_t id) {
  auto it = undos_.find(id);
  if (it == undos_.end()) return;
  auto fn = std::move(it->second);
  undos_.erase(it);
  fn();
}

void RaftCluster::begin_quiet() {
  quiet_ = true;
  while (!undos_.empty()) undo(undos_.begin()->first);
  net_.heal("all");
  net_.remove_rules("all");
  for (size_t i = 0; i < n_; ++i) {
    Node& n = nodes_[i];
    n.slow = Duration::zero();
    n.frozen_until = std::min(n.frozen_until, now_);
    if (!n.up) start_node(i);
  }
  report_.faults.emplace_back(to_seconds(now_ - kTimeZero), "quiet: every fault undone");
}

void RaftCluster::reconcile() {
  auto l = leader();
  if (!l) return;
  raft::Core& core = *nodes_[*l].core;
  const raft::ConfigState& cfg = core.config();
  auto change = [&](raft::ConfigChangeType type, size_t node) {
    StepResult r = step(*l, raft::ChangeMembership{{type, nodes_[node].id}});
    if (r.status.ok()) ++config_changes_;
  };
  // Grow before shrinking, one change at a time; the core refuses a change while the last
  // one is uncommitted, and this runs again in 100ms.
  for (size_t v : want_voters_) {
    const raft::NodeId& id = nodes_[v].id;
    if (cfg.is_voter(id)) continue;
    if (!cfg.is_learner(id)) return change(raft::ConfigChangeType::add_learner, v);
    auto peer = core.peer(id);
    if (peer && peer->match + 8 >= core.commit_index()) {
      return change(raft::ConfigChangeType::add_voter, v);
    }
    return;  // wait for it to catch up
  }
  for (const auto& id : cfg.voters) {
    if (!want_voters_.count(index_of(id))) return change(raft::ConfigChangeType::remove, index_of(id));
  }
  for (const auto& id : cfg.learners) {
    if (!want_voters_.count(index_of(id))) return change(raft::ConfigChangeType::remove, index_of(id));
  }
}

}  // namespace shoal::sim
