// Safety checks over the whole group, the end-of-run verdicts and the summary.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "simulations/raft/raft_cluster.h"
#include "simulations/raft/raft_sim.h"

namespace shoal::sim {

namespace {

uint64_t entry_hash(const raft::Entry& e) {
  uint64_t h = 1469598103934665603ULL;
  auto add = [&](uint64_t v) {
    for (int b = 0; b < 8; ++b) h = (h ^ ((v >> (8 * b)) & 0xff)) * 1099511628211ULL;
  };
  add(e.term);
  add(uint64_t(e.type));
  add(e.data.size());
  for (uint8_t b : e.data) h = (h ^ b) * 1099511628211ULL;
  return h;
}

}  // namespace

void RaftCluster::check_step(size_t i) {
  const raft::Core& c = *nodes_[i].core;
  if (c.role() != raft::Role::leader) return;
  const raft::LogView& log = c.log();
  auto [it, fresh] = leaders_.emplace(c.term(), i);
  if (!fresh && it->second != i) {
    return fail("election safety", fmt::format("n{} and n{} both lead term {}", it->second, i, c.term()));
  }
  if (fresh) {
    ++elections_;
    // Leader completeness (§5.4): an entry committed in term t is in the log of every leader
    // of a term above t. (A leader of an older term may still come to power late, when its
    // last vote arrives after a newer leader committed; it need not hold those entries.)
    // Entries below its snapshot are covered by it: snapshots hold only applied entries,
    // and state machine safety checks those.
    for (auto a = committed_.lower_bound(log.first_index()); a != committed_.end(); ++a) {
      if (a->second.second >= c.term()) continue;
      if (log.term_at(a->first) != a->second.first) {
        return fail("leader completeness",
                    fmt::format("n{}, leader of term {}, lacks entry {} of term {} committed in term {}; "
                                "its log ends at {}",
                                i, c.term(), a->first, a->second.first, a->second.second, log.last_index()));
      }
    }
  }
  // Record what this leader commits, and in which term, the first time any leader does.
  const raft::Index from = committed_.empty() ? log.first_index() : committed_.rbegin()->first + 1;
  for (raft::Index k = std::max(from, log.first_index()); k <= c.commit_index(); ++k) {
    if (auto t = log.term_at(k)) committed_.emplace(k, std::pair{*t, c.term()});
  }
}

void RaftCluster::check_apply(size_t i, const raft::Entry& e) {
  const std::pair<raft::Term, uint64_t> mine{e.term, entry_hash(e)};
  auto [it, fresh] = applied_.emplace(e.index, mine);
  if (!fresh && it->second != mine) {
    fail("state machine safety",
         fmt::format("n{} applied entry {} of term {}, another node applied one of term {} there",
                     i, e.index, e.term, it->second.first));
  }
}

void RaftCluster::check_log_matching() {
  for (size_t a = 0; a < n_; ++a) {
    for (size_t b = a + 1; b < n_; ++b) {
      if (!nodes_[a].up || !nodes_[b].up) continue;
      const raft::LogView& la = nodes_[a].core->log();
      const raft::LogView& lb = nodes_[b].core->log();
      const raft::Index lo = std::max(la.first_index(), lb.first_index());
      const raft::Index hi = std::min(la.last_index(), lb.last_index());
      raft::Index top = 0;
      for (raft::Index k = hi; k >= lo && k > 0; --k) {
        if (la.term_at(k) == lb.term_at(k)) {
          top = k;
          break;
        }
      }
      if (top < lo) continue;
      auto ea = la.slice(lo, top + 1, SIZE_MAX, SIZE_MAX);
      auto eb = lb.slice(lo, top + 1, SIZE_MAX, SIZE_MAX);
      if (ea != eb) {
        return fail("log matching", fmt::format("n{} and n{} agree on the term at {} but differ in [{}, {}]",
                                                a, b, top, lo, top));
      }
    }
  }
}

void RaftCluster::take_sample() {
  if (!opt_.csv) return;
  const double t = to_seconds(now_ - kTimeZero);
  for (size_t i = 0; i < n_; ++i) {
    const Node& n = nodes_[i];
    if (!n.up) {
      report_.csv += fmt::format("{:.3f},{},0,down,,,,,,{}\n", t, n.id, want_voters_.count(i) ? 1 : 0);
      continue;
    }
    const raft::Core& c = *n.core;
    report_.csv += fmt::format("{:.3f},{},1,{},{},{},{},{},{},{}\n", t, n.id, raft::role_name(c.role()),
                               c.term(), c.commit_index(), n.kv.index(), c.last_index(),
                               c.log().snapshot().index, c.config().is_voter(n.id) ? 1 : 0);
  }
}

void RaftCluster::finish() {
  report_.sim_seconds = to_seconds(now_ - kTimeZero);
  const bool broken = stopped_;  // a check during the run failed (it is in checks already)
  auto pass = [&](const std::string& name, const std::string& detail) {
    report_.checks.push_back({name, true, detail});
  };
  if (!broken) {
    pass("core invariants", "Core::check_invariants() after every step");
    pass("election safety", fmt::format("{} terms with a leader, one leader each", leaders_.size()));
    pass("leader completeness", "every leader held every entry committed in an earlier term");
    pass("state machine safety", fmt::format("{} indexes applied, one entry each", applied_.size()));
    check_log_matching();
    if (!stopped_) pass("log matching", "every pair of live members");
  }
  // Linearizability is judged even after a failure: the history up to it is still a history.
  std::vector<lincheck::KvOp> ops;
  for (size_t k = 0; k < history_.size(); ++k) {
    const auto& op = history_[k];
    if (abandoned_[k] || (op.kind == lincheck::OpKind::get && op.ret == lincheck::kPending)) continue;
    ops.push_back(op);
  }
  const lincheck::Verdict v = lincheck::check_kv(ops);
  const std::string stats = fmt::format("{} ops over {} keys, {} search states", v.ops, v.keys, v.states);
  if (!v.complete) {
    report_.checks.push_back({"linearizable", false, "inconclusive: " + v.explanation});
  } else if (!v.linearizable) {
    report_.checks.push_back({"linearizable", false, stats + "; " + v.explanation});
  } else {
    pass("linearizable", stats);
  }
  if (!broken) {
    if (sc_.checks.min_writes) {
      const bool ok = int64_t(writes_ok_) >= *sc_.checks.min_writes;
      report_.checks.push_back({"min_writes", ok, fmt::format("{} acknowledged, want >= {}", writes_ok_, *sc_.checks.min_writes)});
    }
    if (sc_.checks.min_reads) {
      const bool ok = int64_t(reads_ok_) >= *sc_.checks.min_reads;
      report_.checks.push_back({"min_reads", ok, fmt::format("{} served, want >= {}", reads_ok_, *sc_.checks.min_reads)});
    }
    if (quiet_ && !clients_.empty() && p_.read_fraction < 1) {
      report_.checks.push_back({"recovers", writes_after_quiet_ > 0,
                                fmt::format("{} writes acknowledged after every fault was undone", writes_after_quiet_)});
    }
  }
  report_.passed = std::all_of(report_.checks.begin(), report_.checks.end(),
                               [](const CheckOutcome& c) { return c.passed; });

  raft::Term max_term = 0;
  for (const auto& n : nodes_) {
    if (n.up) max_term = std::max(max_term, n.core->term());
  }
  std::string& s = report_.summary;
  s += fmt::format("scenario {} (raft) seed {}: {}\n", sc_.name, opt_.seed, report_.passed ? "PASS" : "FAIL");
  s += fmt::format("  group: {} founding voters of {} nodes; {} clients over {} keys; {:.1f}s simulated\n",
                   p_.voters, n_, clients_.size(), p_.keys, report_.sim_seconds);
  s += fmt::format("  raft: {} leaders (max term {}), {} crashes, {} restarts, {} snapshots ({} refused), "
                   "{} installed, {} config changes, {} transfers\n",
                   elections_, max_term, crashes_, restarts_, snapshots_, snapshots_refused_, installs_,
                   config_changes_, transfers_);
  if (p_.quiesce_after > Duration::zero()) {
    s += fmt::format("  quiescence: after {}ms idle; the leader went quiet {} times; {} PeerDown "
                     "reports from the failure detector\n",
                     std::chrono::duration_cast<std::chrono::milliseconds>(p_.quiesce_after).count(),
                     quiesces_, peer_downs_);
  }
  s += fmt::format("  clients: {} writes acknowledged, {} unknown; {} reads served, {} abandoned\n",
                   writes_ok_, writes_unknown_, reads_ok_, reads_abandoned_);
  s += fmt::format("  network: {} sent, {} delivered, {} lost; {} events; digest {:016x}\n",
                   report_.packets_sent, report_.packets_delivered, report_.packets_lost,
                   report_.events, report_.digest);
  for (const auto& [t, label] : report_.faults) s += fmt::format("  {:8.3f}s  {}\n", t, label);
  for (const auto& c : report_.checks) {
    s += fmt::format("  [{}] {}: {}\n", c.passed ? "PASS" : "FAIL", c.name, c.detail);
  }
}

Result<RunReport> run_raft_scenario(const Scenario& scenario, const RunOptions& options) {
  if (scenario.raft.voters > scenario.nodes) {
    return Status::invalid_argument(fmt::format("{}: raft.voters ({}) exceeds the node count ({})",
                                                scenario.file, scenario.raft.voters, scenario.nodes));
  }
  const auto wall_start = std::chrono::steady_clock::now();
  auto cluster = std::make_unique<RaftCluster>(scenario, options);
  RunReport& r = cluster->report();
  r.scenario = scenario.name;
  r.seed = options.seed;
  r.nodes = size_t(scenario.nodes);
  if (options.csv) r.csv = kRaftCsvHeader;
  cluster->run();
  RunReport out = std::move(r);
  cluster.reset();
  out.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  out.peak_rss_kb = peak_rss_kb();
  return out;
}

}  // namespace shoal::sim
