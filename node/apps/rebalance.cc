#include "node/apps/rebalance.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "node/apps/auto_rollback.h"

namespace shoal::node::apps {
namespace {

// The N of "TYPE.N": the newest instance on a node is the one that moves.
uint64_t seq_of(const std::string& id) {
  const auto dot = id.rfind('.');
  if (dot == std::string::npos) return 0;
  uint64_t n = 0;
  for (size_t k = dot + 1; k < id.size(); ++k) {
    if (id[k] < '0' || id[k] > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(id[k] - '0');
  }
  return n;
}

class Balancer {
 public:
  Balancer(const AppState& app, const std::vector<NodeInfo>& nodes) : app_(app) {
    for (const auto& n : nodes) {
      if (n.alive && n.member && !n.draining) usable_.emplace(n.name, n);
    }
  }

  std::optional<Move> run() {
    if (!settled() || usable_.size() < 2) return std::nullopt;
    for (const auto& [type, f] : app_.formation()) {
      if (auto m = spread_type(type, f.memory_mb)) return m;
    }
    return spread_app();
  }

 private:
  bool settled() {
    if (app_.current_version() == 0 || app_.stopped()) return false;
    // After a rollback, instances of a release equal to the current one count as current.
    const std::set<uint64_t> current = current_equivalents(app_);
    for (const auto& [id, inst] : app_.instances()) {
      if (!inst.desired) continue;
      if (inst.replace || !is_up(inst) || !current.contains(inst.release) ||
          !usable_.count(inst.node)) {
        return false;
      }
      by_node_type_[{inst.node, inst.type}].push_back(&inst);
      ++app_count_[inst.node];
    }
    for (const auto& [type, f] : app_.formation()) {
      int n = 0;
      for (const auto& [key, list] : by_node_type_) n += key.second == type ? int(list.size()) : 0;
      if (n != f.count) return false;  // scaling in progress: not ours to judge
    }
    return true;
  }

  int count(const std::string& node, const std::string& type) const {
    auto it = by_node_type_.find({node, type});
    return it == by_node_type_.end() ? 0 : static_cast<int>(it->second.size());
  }
  int app_count(const std::string& node) const {
    auto it = app_count_.find(node);
    return it == app_count_.end() ? 0 : it->second;
  }
  bool fits(const NodeInfo& n, int64_t memory_mb) const {
    return n.memory_free_mb < 0 || n.memory_free_mb >= memory_mb;
  }

  // The fullest node for `type` (ties: more of the app, then name) and the emptiest that
  // can take one more (ties: less of the app, then name).
  std::optional<Move> spread_type(const std::string& type, int64_t memory_mb) const {
    const NodeInfo* from = nullptr;
    const NodeInfo* to = nullptr;
    auto fuller = [&](const NodeInfo& a, const NodeInfo& b) {
      return std::make_tuple(count(a.name, type), app_count(a.name)) >
             std::make_tuple(count(b.name, type), app_count(b.name));
    };
    for (const auto& [name, n] : usable_) {
      if (count(name, type) > 0 && (from == nullptr || fuller(n, *from))) from = &n;
      if (fits(n, memory_mb) && (to == nullptr || fuller(*to, n))) to = &n;
    }
    if (from == nullptr || to == nullptr || count(from->name, type) - count(to->name, type) < 2) {
      return std::nullopt;
    }
    return move(type, *from, *to,
                fmt::format("{} has {} {} instances, {} has {}", from->name,
                            count(from->name, type), type, to->name, count(to->name, type)));
  }

  std::optional<Move> spread_app() const {
    const NodeInfo* from = nullptr;
    for (const auto& [name, n] : usable_) {
      if (from == nullptr || app_count(name) > app_count(from->name)) from = &n;
    }
    // Among the nodes at least 2 below `from`, one that can take a type `from` has more
    // of: the widest gap first, then the emptiest node, then type and node name.
    struct Candidate {
      int gap;
      const NodeInfo* to;
      const std::string* type;
    };
    std::optional<Candidate> best;
    for (const auto& [name, n] : usable_) {
      if (app_count(from->name) - app_count(name) < 2) continue;
      for (const auto& [type, f] : app_.formation()) {
        const int gap = count(from->name, type) - count(name, type);
        if (gap < 1 || !fits(n, f.memory_mb)) continue;
        if (!best || std::make_tuple(-gap, app_count(name)) <
                         std::make_tuple(-best->gap, app_count(best->to->name))) {
          best = Candidate{gap, &n, &type};
        }
      }
    }
    if (!best) return std::nullopt;
    const NodeInfo& to = *best->to;
    const std::string& type = *best->type;
    return move(type, *from, to,
                fmt::format("{} runs {} instances of the app, {} runs {}", from->name,
                            app_count(from->name), to.name, app_count(to.name)));
  }

  Move move(const std::string& type, const NodeInfo& from, const NodeInfo& to,
            std::string reason) const {
    const auto& list = by_node_type_.at({from.name, type});
    const Instance* newest = *std::max_element(
        list.begin(), list.end(),
        [](const Instance* a, const Instance* b) { return seq_of(a->id) < seq_of(b->id); });
    return Move{newest->id, type, from.name, to.name, newest->release, std::move(reason)};
  }

  const AppState& app_;
  std::map<std::string, NodeInfo> usable_;  // by name: ties go by name
  std::map<std::pair<std::string, std::string>, std::vector<const Instance*>> by_node_type_;
  std::map<std::string, int> app_count_;
};

}  // namespace

std::optional<Move> pick_move(const AppState& app, const std::vector<NodeInfo>& nodes) {
  return Balancer(app, nodes).run();
}

}  // namespace shoal::node::apps
