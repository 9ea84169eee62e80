#include "node/apps/scheduler.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

#include "node/apps/auto_rollback.h"
#include "node/apps/rebalance.h"

namespace shoal::node::apps {
namespace {

bool is_running(const Instance& i) { return i.state == "running"; }

// Where this app's instances are, as the plan goes: the desired instances that stay (current
// release, node not draining) and are not unplaced so far, plus the placements made. The ones
// being replaced do not count, so that a rollout spreads the new release evenly. Memory is
// what this plan placed on a node.
struct Load {
  std::map<std::string, int> app;
  std::map<std::pair<std::string, std::string>, int> type;
  std::map<std::string, int64_t> planned_memory_mb;

  void add(const std::string& node, const std::string& t, int delta) {
    app[node] += delta;
    type[{node, t}] += delta;
  }
  int app_count(const std::string& node) const {
    auto it = app.find(node);
    return it == app.end() ? 0 : it->second;
  }
  int type_count(const std::string& node, const std::string& t) const {
    auto it = type.find({node, t});
    return it == type.end() ? 0 : it->second;
  }
};

class Planner {
 public:
  Planner(const AppState& app, const std::vector<NodeInfo>& nodes, const PlanOptions& options)
      : app_(app), current_(current_equivalents(app)) {
    const Manifest* m = app.current_manifest();
    const DeployPolicy policy = m != nullptr ? m->deploy : DeployPolicy{};
    max_surge_ = std::max(0, options.max_surge.value_or(policy.max_surge));
    max_unavailable_ = std::max(0, options.max_unavailable.value_or(policy.max_unavailable));
    if (max_surge_ == 0 && max_unavailable_ == 0) max_surge_ = 1;
    for (const auto& n : nodes) nodes_.emplace(n.name, n);  // sorted by name; first one wins
  }

  Plan run() {
    collect();
    if (app_.current_version() != 0) {
      std::set<std::string> types;
      for (const auto& [t, f] : app_.formation()) types.insert(t);
      for (const auto& [t, list] : live_) types.insert(t);
      for (const auto& t : types) plan_type(t);
    }
    return std::move(plan_);
  }

 private:
  bool alive(const std::string& node) const {
    auto it = nodes_.find(node);
    return it != nodes_.end() && it->second.alive;
  }
  bool member(const std::string& node) const {
    auto it = nodes_.find(node);
    return it != nodes_.end() && it->second.member;
  }
  bool draining(const std::string& node) const {
    auto it = nodes_.find(node);
    return it != nodes_.end() && it->second.draining;
  }

  // Removals, and instances on dead nodes; the live desired instances per type.
  void collect() {
    for (const auto& [id, inst] : app_.instances()) {
      if (!inst.desired) {
        if (inst.state == "stopped" || !member(inst.node)) plan_.remove.push_back(id);
      } else if (!alive(inst.node)) {
        plan_.unplace.push_back(id);
      } else {
        live_[inst.type].push_back(&inst);
        if (stays(inst)) load_.add(inst.node, inst.type, 1);
      }
    }
  }

  bool stays(const Instance& inst) const {
    return current_.contains(inst.release) && !inst.replace && !draining(inst.node);
  }

  void unplace(const Instance* inst) {
    plan_.unplace.push_back(inst->id);
    if (stays(*inst)) load_.add(inst->node, inst->type, -1);
  }

  void plan_type(const std::string& type) {
    const uint64_t current = app_.current_version();
    auto f = app_.formation().find(type);
    const int want = app_.stopped() || f == app_.formation().end() ? 0 : f->second.count;
    const int64_t memory_mb = f == app_.formation().end() ? 0 : f->second.memory_mb;

    std::vector<const Instance*> fresh;     // current release, on a node that stays
    std::vector<const Instance*> replaced;  // older release or draining node
    for (const Instance* i : live_[type]) {
      (stays(*i) ? fresh : replaced).push_back(i);
    }

    // Scale down: the ones not running first, then from the most crowded nodes, newest first.
    if (static_cast<int>(fresh.size()) > want) {
      auto order = [&](const Instance* a, const Instance* b) {
        auto key = [&](const Instance* i) {
          return std::make_tuple(is_up(*i), -load_.app_count(i->node),
                                 -load_.type_count(i->node, type));
        };
        if (key(a) != key(b)) return key(a) < key(b);
        return seq_of(*a) > seq_of(*b);
      };
      std::sort(fresh.begin(), fresh.end(), order);
      const size_t excess = fresh.size() - static_cast<size_t>(want);
      for (size_t k = 0; k < excess; ++k) unplace(fresh[k]);
      fresh.erase(fresh.begin(), fresh.begin() + static_cast<long>(excess));
    }

    // Replace rolling: keep the instances of the type that are up (running, and healthy when
    // checked) at `want - max_unavailable` or more. A replaced one that is not up goes at
    // once: keeping it serves nobody (and a failed release's instances must not linger after
    // its rollback).
    int running = 0;
    for (const Instance* i : fresh) running += is_up(*i);
    for (const Instance* i : replaced) running += is_up(*i);
    int surplus = running - std::max(0, want - max_unavailable_);
    std::sort(replaced.begin(), replaced.end(), [&](const Instance* a, const Instance* b) {
      auto key = [&](const Instance* i) {
        return std::make_tuple(is_running(*i), is_up(*i), !draining(i->node), i->release,
                               seq_of(*i));
      };
      return key(a) < key(b);
    });
    int kept = 0;
    for (const Instance* i : replaced) {
      if (!is_up(*i)) {
        unplace(i);
      } else if (surplus > 0) {
        unplace(i);
        --surplus;
      } else {
        ++kept;
      }
    }

    // Place up to `want`, at most max_surge above it while old ones remain.
    const int need = want - static_cast<int>(fresh.size());
    const int room = want + max_surge_ - static_cast<int>(fresh.size()) - kept;
    for (int k = 0; k < std::min(need, room); ++k) {
      if (!place_one(type, current, memory_mb)) break;
    }
  }

  bool place_one(const std::string& type, uint64_t release, int64_t memory_mb) {
    const NodeInfo* best = nullptr;
    std::vector<std::string> why;
    for (const auto& [name, n] : nodes_) {
      const int64_t planned = load_.planned_memory_mb[name];
      if (!n.alive) {
        why.push_back(name + " is not alive");
      } else if (n.draining) {
        why.push_back(name + " is draining");
      } else if (n.memory_free_mb >= 0 && n.memory_free_mb - planned < memory_mb) {
        why.push_back(fmt::format("{} has {} MB free", name, n.memory_free_mb - planned));
      } else if (best == nullptr ||
                 std::make_pair(load_.app_count(name), load_.type_count(name, type)) <
                     std::make_pair(load_.app_count(best->name),
                                    load_.type_count(best->name, type))) {
        best = &n;
      }
    }
    if (best == nullptr) {
      plan_.warnings.push_back(fmt::format(
          "cannot place a {} instance ({} MB): {}", type, memory_mb,
          why.empty() ? std::string("no nodes known") : fmt::format("{}", fmt::join(why, "; "))));
      return false;
    }
    plan_.place.push_back({type, best->name, release});
    load_.add(best->name, type, 1);
    load_.planned_memory_mb[best->name] += memory_mb;
    return true;
  }

  // The N of "TYPE.N", so that ties go by placement order rather than string order.
  static uint64_t seq_of(const Instance& i) {
    const auto dot = i.id.rfind('.');
    uint64_t n = 0;
    for (size_t k = dot == std::string::npos ? i.id.size() : dot + 1; k < i.id.size(); ++k) {
      if (i.id[k] < '0' || i.id[k] > '9') return 0;
      n = n * 10 + static_cast<uint64_t>(i.id[k] - '0');
    }
    return n;
  }

  const AppState& app_;
  const std::set<uint64_t> current_;  // releases that count as the current one
  int max_surge_ = 1;
  int max_unavailable_ = 0;
  std::map<std::string, NodeInfo> nodes_;
  std::map<std::string, std::vector<const Instance*>> live_;
  Load load_;
  Plan plan_;
};

}  // namespace

Plan plan(const AppState& app, const std::vector<NodeInfo>& nodes, int64_t now_ms,
          const PlanOptions& options) {
  (void)now_ms;
  Plan p = Planner(app, nodes, options).run();
  if (p.place.empty() && p.unplace.empty()) {
    if (auto m = pick_move(app, nodes)) p.moves.push_back(std::move(*m));
  }
  return p;
}

}  // namespace shoal::node::apps
