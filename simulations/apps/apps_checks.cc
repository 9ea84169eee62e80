// What the apps engine checks, from the ground truth (the simulated processes) against the
// app's committed state, and the run's summary. docs/simulator.md ("Apps") states each
// check; in short:
//  - formation restored: after the last fault (kill, restart, partition, heal, link change)
//    or acknowledged deploy, within apps.restore_within, the processes that run (started,
//    not being stopped) of the current release on live nodes number exactly the formation's
//    count per type; and they still do at the end of the run.
//  - no instance twice: (1) never, at any moment, is one instance id alive on two live
//    nodes; (2) outside a partition, more than count + max_surge (1) processes of a type are
//    alive on live nodes for no longer than apps.settle_within, measured from the later of
//    when the excess began and the last fault or deploy (a heal lets the leader reach the
//    minority again, which must then stop what was moved away).
//  - fencing: no supervisor accepts an assignment of a lower term than one it accepted
//    before, across its restarts (apps_nodes.cc).
//  - acknowledged releases kept: every deploy the deployer saw committed is, at the end, in
//    the releases of the live member that applied the most, with its digest, unless
//    kKeptReleases newer ones pruned it; and on every member the current release number
//    never goes back (apps_leader.cc).
#include <fmt/format.h>

#include <algorithm>

#include "simulations/apps/apps_cluster.h"
#include "simulations/latency.h"

namespace shoal::sim {

namespace {

std::string type_of(const std::string& id) { return id.substr(0, id.find('.')); }

}  // namespace

const node::apps::AppState* AppsCluster::truth() const {
  const Node* best = nullptr;
  for (const Node& n : nodes_) {
    if (!n.up || !n.core) continue;
    if (best == nullptr || n.core->applied_index() > best->core->applied_index()) best = &n;
  }
  return best ? &best->app : nullptr;
}

void AppsCluster::observe() {
  // The failure detector's view.
  for (size_t o = 0; o < n_; ++o) {
    for (size_t s = 0; s < n_; ++s) {
      const bool reach = o == s || (nodes_[s].up && nodes_[o].up && net_.connected(o, s));
      TimePoint& since = unreachable_since_[o][s];
      if (reach) {
        since = kTimeNever;
      } else if (since == kTimeNever) {
        since = now_;
      }
    }
  }
  // No instance id alive on two live nodes.
  std::map<std::string, size_t> where;
  std::map<std::string, int64_t> alive, running;  // per type: alive; started current release
  int64_t serving = 0;  // started and not being stopped, any release
  const node::apps::AppState* app = truth();
  const uint64_t current = app ? app->current_version() : 0;
  for (size_t i = 0; i < n_; ++i) {
    if (!nodes_[i].up) continue;
    for (const auto& [key, proc] : nodes_[i].procs) {
      auto [it, fresh] = where.emplace(key.second, i);
      if (!fresh) {
        return fail("no instance twice", fmt::format("{} runs on n{} and n{}", key.second, it->second, i));
      }
      const std::string type = type_of(key.second);
      ++alive[type];
      if (proc.started && !proc.stopping && uint64_t(proc.release) == current) ++running[type];
      if (proc.started && !proc.stopping) ++serving;
    }
  }
  if (app == nullptr) return;  // no live member: nothing to compare with

  // Formation restored.
  std::map<std::string, int64_t> want;
  for (const auto& [type, f] : app->formation()) want[type] = app->stopped() ? 0 : f.count;
  bool formed = true;
  std::string gap;
  for (const auto& [type, count] : want) {
    if (running[type] != count) {
      formed = false;
      gap += fmt::format(" {} {}/{}", type, running[type], count);
    }
  }
  for (const auto& [type, count] : running) {
    if (!want.count(type) && count > 0) {
      formed = false;
      gap += fmt::format(" {} {}/0", type, count);
    }
  }
  formation_ok_at_end_ = formed;
  if (formed && !want.empty()) ever_formed_ = true;
  if (ever_formed_) min_serving_ = std::min(min_serving_, serving);
  if (!formed) {
    formed_since_.reset();
  } else if (!formed_since_) {
    formed_since_ = now_;
  }
  // From restore_within after the last fault or deploy on, the formation runs at every
  // look, until the next one. Not judged while a partition lasts (a cut-off supervisor keeps
  // its instances: more than the formation runs until the heal) nor while the current
  // release is one that crashes by design (apps.crashing): it waits for the deploy that
  // replaces it.
  const auto* rel = app->current_release();
  const bool crashing = rel != nullptr && crashing_digests_.count(rel->digest) > 0;
  if (!crashing && !net_.any_partition() && now_ - settle_from_ >= p_.restore_within) {
    if (!formed) {
      return fail("formation restored",
                  fmt::format("not running {} after the last fault or deploy (at {:.3f}s); running/wanted:{}",
                              format_duration(p_.restore_within), to_seconds(settle_from_ - kTimeZero), gap));
    }
    if (!judged_) {
      judged_ = true;
      worst_restore_ = std::max(worst_restore_, std::max(Duration::zero(), *formed_since_ - settle_from_));
    }
  }

  // No more than count + max_surge alive for long, outside a partition.
  for (const auto& [type, count] : alive) {
    const int64_t limit = (want.count(type) ? want[type] : 0) + 1;
    if (count <= limit) {
      excess_since_.erase(type);
      continue;
    }
    const TimePoint since = excess_since_.emplace(type, now_).first->second;
    if (net_.any_partition()) continue;
    const Duration d = now_ - std::max(since, settle_from_);
    worst_excess_ = std::max(worst_excess_, d);
    if (d > p_.settle_within) {
      return fail("no instance twice",
                  fmt::format("{} processes of {} alive (formation {} + surge 1) for {} after the last fault",
                              count, type, limit - 1, format_duration(d)));
    }
  }
  for (auto it = excess_since_.begin(); it != excess_since_.end();) {
    it = alive.count(it->first) ? std::next(it) : excess_since_.erase(it);
  }
}

void AppsCluster::finish() {
  report_.sim_seconds = to_seconds(now_ - kTimeZero);
  const bool broken = stopped_;
  auto add = [&](const std::string& name, bool ok, const std::string& detail) {
    report_.checks.push_back({name, ok, detail});
  };
  const node::apps::AppState* app = truth();
  size_t acked = 0;
  for (const auto& v : acked_) acked += v.has_value();
  if (!broken) {
    add("core invariants", true, "raft::Core and SupervisorCore::check_invariants() after every step");
    add("fencing", true, "no supervisor accepted an assignment of an older term");
    add("release numbers never go back", true, "on every member, over every apply");
    const auto* rel = app ? app->current_release() : nullptr;
    const bool crashing = rel != nullptr && crashing_digests_.count(rel->digest) > 0;
    add("formation restored", formation_ok_at_end_ || crashing,
        formation_ok_at_end_
            ? fmt::format("within {} of each last fault or deploy (worst {}), and at the end",
                          format_duration(p_.restore_within), format_duration(worst_restore_))
            : "not running at the end of the run");
    add("no instance twice", true,
        fmt::format("no id on two nodes; excess over count + surge lasted at most {} after a fault",
                    format_duration(worst_excess_)));
    std::string lost;
    if (app == nullptr) {
      lost = "no live member to ask";
    } else {
      const uint64_t newest = app->next_version() - 1;
      for (size_t k = 0; k < acked_.size(); ++k) {
        if (!acked_[k]) continue;
        const uint64_t v = *acked_[k];
        const node::apps::Release* rel = app->release(v);
        const bool pruned = v + node::apps::kKeptReleases <= newest;
        if (pruned) continue;
        if (rel == nullptr || rel->digest != fmt::format("{:064x}", k + 1)) {
          lost += fmt::format(" deploy {} (v{})", k + 1, v);
        }
      }
    }
    add("acknowledged releases kept", lost.empty(),
        lost.empty() ? fmt::format("{} of {} deploys acknowledged, all kept", acked, acked_.size())
                     : "lost:" + lost);
    add("deploys acknowledged", acked == acked_.size(),
        fmt::format("{} of {}", acked, acked_.size()));
    if (p_.max_placements && app != nullptr) {
      const int64_t placed = int64_t(app->next_instance_seq()) - 1;
      add("no placement thrashing", placed <= *p_.max_placements,
          fmt::format("{} instances placed over the run, want <= {}", placed, *p_.max_placements));
    }
  }
  report_.passed = std::all_of(report_.checks.begin(), report_.checks.end(),
                               [](const CheckOutcome& c) { return c.passed; });

  std::string& s = report_.summary;
  s += fmt::format("scenario {} (apps) seed {}: {}\n", sc_.name, opt_.seed, report_.passed ? "PASS" : "FAIL");
  s += fmt::format("  cluster: {} nodes, app group of {} voters; formation web={} worker={}; {} deploys; "
                   "{:.1f}s simulated\n",
                   n_, p_.voters, p_.web, p_.worker, p_.deploys.size(), report_.sim_seconds);
  s += fmt::format("  raft: {} leaders, {} crashes ({} of the leader), {} restarts\n", elections_, crashes_,
                   leader_kills_, restarts_);
  s += fmt::format("  leader: {} turns, {} places, {} unplaces, {} removes, {} reports, {} lost marks, "
                   "{} pushes ({} refused as stale)\n",
                   turns_, places_, unplaces_, removes_, reports_, lost_marks_, pushes_, fenced_);
  s += fmt::format("  processes: {} started, {} crashed, {} stopped, {} killed; fewest serving at once "
                   "after the first formation ran: {}\n",
                   proc_starts_, proc_crashes_, proc_stops_, proc_kills_,
                   ever_formed_ ? std::to_string(min_serving_) : std::string("-"));
  if (app != nullptr) {
    std::map<std::string, int64_t> states;
    for (const auto& [id, inst] : app->instances()) ++states[inst.state];
    std::string st;
    for (const auto& [k, v] : states) st += fmt::format(" {}={}", k, v);
    s += fmt::format("  app: release v{}, {} instances ever placed, table:{}\n", app->current_version(),
                     app->next_instance_seq() - 1, st.empty() ? " empty" : st);
  }
  s += fmt::format("  network: {} sent, {} delivered, {} lost; digest {:016x}\n", report_.packets_sent,
                   report_.packets_delivered, report_.packets_lost, report_.digest);
  for (const auto& c : report_.checks) {
    s += fmt::format("  [{}] {}: {}\n", c.passed ? "ok" : "FAIL", c.name, c.detail);
  }
}

}  // namespace shoal::sim
