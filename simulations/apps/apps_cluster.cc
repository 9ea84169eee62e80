// The event loop of the apps engine: nodes, the network, the Raft shell around each app
// group member, and timeline faults. The leader's turn and the deployer are in
// apps_leader.cc, supervisors in apps_nodes.cc, checks in apps_checks.cc.
#include "simulations/apps/apps_cluster.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace shoal::sim {

namespace {

constexpr uint64_t kFnvPrime = 1099511628211ULL;
// How often the failure detector samples reachability, the observer checks, and a leader
// looks whether its next turn is due.
constexpr Duration kObserveEvery = std::chrono::milliseconds(100);

size_t message_bytes(const raft::Message& m) {
  size_t bytes = 48;
  if (const auto* a = std::get_if<raft::AppendEntries>(&m)) {
    for (const auto& e : a->entries) bytes += 24 + e.data.size();
  }
  return bytes;
}

}  // namespace

AppsCluster::AppsCluster(const Scenario& scenario, const RunOptions& options)
    : sc_(scenario),
      p_(scenario.apps),
      opt_(options),
      n_(static_cast<size_t>(scenario.nodes)),
      rng_(options.seed),
      net_rng_(rng_.fork()),
      net_(n_, scenario.network),
      nodes_(n_),
      unreachable_since_(n_, std::vector<TimePoint>(n_, kTimeNever)),
      acked_(scenario.apps.deploys.size()),
      deploy_attempts_(scenario.apps.deploys.size(), 0) {
  config_ = raft::Config::local();
  for (size_t i = 0; i < n_; ++i) {
    nodes_[i].id = "n" + std::to_string(i);
    nodes_[i].voter = i < static_cast<size_t>(p_.voters);
  }
}

AppsCluster::~AppsCluster() = default;

void AppsCluster::push(Ev e) {
  e.seq = next_seq_++;
  heap_.push_back(std::move(e));
  std::push_heap(heap_.begin(), heap_.end(), Later{});
}

void AppsCluster::mix(uint64_t v) {
  for (int b = 0; b < 8; ++b) {
    report_.digest ^= (v >> (8 * b)) & 0xff;
    report_.digest *= kFnvPrime;
  }
}

void AppsCluster::fail(const std::string& check, const std::string& detail) {
  if (stopped_) return;
  stopped_ = true;
  report_.checks.push_back(
      {check, false, fmt::format("at {:.3f}s: {}", to_seconds(now_ - kTimeZero), detail)});
}

int64_t AppsCluster::wall_ms() const {
  // A fixed epoch (2026-01-01) plus simulated time: deterministic, and plausible to the
  // cores that print or compare it.
  return 1'767'225'600'000 + to_millis(now_ - kTimeZero);
}

size_t AppsCluster::index_of(const std::string& id) const {
  if (id.size() < 2 || id[0] != 'n') return SIZE_MAX;
  size_t i = 0;
  for (size_t k = 1; k < id.size(); ++k) {
    if (id[k] < '0' || id[k] > '9') return SIZE_MAX;
    i = i * 10 + size_t(id[k] - '0');
  }
  return i < n_ ? i : SIZE_MAX;
}

std::optional<size_t> AppsCluster::leader() const {
  std::optional<size_t> best;
  for (size_t i = 0; i < n_; ++i) {
    const Node& n = nodes_[i];
    if (!n.up || !n.core || n.core->role() != raft::Role::leader) continue;
    if (!best || n.core->term() > nodes_[*best].core->term()) best = i;
  }
  return best;
}

void AppsCluster::run() {
  report_.digest = 1469598103934665603ULL;
  end_ = kTimeZero + sc_.duration;
  for (const size_t k : std::vector<size_t>(p_.crashing.begin(), p_.crashing.end())) {
    crashing_digests_.insert(fmt::format("{:064x}", k));
  }
  for (size_t i = 0; i < n_; ++i) start_node(i);
  for (size_t f = 0; f < sc_.timeline.size(); ++f) {
    Ev e;
    e.at = kTimeZero + sc_.timeline[f].at;
    e.kind = Kind::fault;
    e.id = f;
    push(std::move(e));
  }
  for (size_t k = 0; k < p_.deploys.size(); ++k) {
    Ev e;
    e.at = kTimeZero + p_.deploys[k];
    e.kind = Kind::deploy;
    e.id = k;
    push(std::move(e));
  }
  Ev t;
  t.at = kTimeZero + kObserveEvery;
  t.kind = Kind::observe;
  push(t);
  t.kind = Kind::turn;
  push(t);

  while (!heap_.empty() && !stopped_ && heap_.front().at <= end_) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    Ev e = std::move(heap_.back());
    heap_.pop_back();
    now_ = e.at;
    ++report_.events;
    dispatch(e);
  }
  if (!stopped_) now_ = end_;
  finish();
}

void AppsCluster::dispatch(Ev& e) {
  const bool per_node = e.kind == Kind::wake || e.kind == Kind::message ||
                        e.kind == Kind::sup_wake || e.kind == Kind::proc;
  if (per_node && now_ < nodes_[e.node].frozen_until) {
    // A paused node (a GC pause, a stalled VM) takes everything late, in order. Its timers
    // keep their identity: a wake moves with its node's wake_at.
    Node& n = nodes_[e.node];
    if (e.kind == Kind::wake && e.at == n.wake_at) n.wake_at = n.frozen_until;
    if (e.kind == Kind::sup_wake && e.at == n.sup_wake_at) n.sup_wake_at = n.frozen_until;
    e.at = n.frozen_until;
    push(std::move(e));
    return;
  }
  switch (e.kind) {
    case Kind::thaw: {
      // The app loop runs on its own thread: after a pause it may take its turn before the
      // Raft thread has heard that another node leads now, and push with its old term.
      Node& n = nodes_[e.node];
      if (!n.up || e.gen != n.gen || !n.core || n.core->role() != raft::Role::leader) return;
      if (n.leader.term == n.core->term()) turn(e.node);
      return;
    }
    case Kind::wake: {
      Node& n = nodes_[e.node];
      if (!n.up || !n.core || e.gen != n.gen || e.at != n.wake_at) return;  // stale
      n.wake_at = kTimeNever;
      (void)step(e.node, raft::Tick{});
      return;
    }
    case Kind::message: {
      Node& n = nodes_[e.node];
      if (!n.up) {
        ++report_.packets_lost;
        return;
      }
      ++report_.packets_delivered;
      mix(uint64_t(now_.time_since_epoch().count()));
      mix((uint64_t(e.gen) << 32) | e.node);
      if (const auto* m = std::get_if<raft::Message>(e.payload.get())) {
        if (n.core) (void)step(e.node, raft::MessageIn{*m});
      } else if (const auto* a = std::get_if<AssignMsg>(e.payload.get())) {
        on_assign(e.node, e.gen, *a);
      } else if (const auto* r = std::get_if<ReportMsg>(e.payload.get())) {
        on_report(e.node, e.gen, *r);
      }
      return;
    }
    case Kind::sup_wake: {
      Node& n = nodes_[e.node];
      if (!n.up || e.gen != n.gen || e.at != n.sup_wake_at) return;
      n.sup_wake_at = kTimeNever;
      sup_handle(e.node, n.sup->tick(now_, wall_ms()));
      return;
    }
    case Kind::proc: return on_proc(e);
    case Kind::fault: return apply_fault(sc_.timeline[e.id]);
    case Kind::deploy: return deploy(e.id, e.gen);
    case Kind::turn:
      for (size_t i = 0; i < n_ && !stopped_; ++i) {
        Node& n = nodes_[i];
        if (!n.up || !n.core || n.core->role() != raft::Role::leader || now_ < n.frozen_until) continue;
        if (n.leader.term != n.core->term()) n.leader = LeaderState{n.core->term(), 0, {}, now_};
        if (now_ >= n.leader.next_turn) turn(i);
      }
      e.at = now_ + std::min(p_.busy_turn, p_.turn);
      push(std::move(e));
      return;
    case Kind::observe:
      observe();
      e.at = now_ + kObserveEvery;
      push(std::move(e));
      return;
  }
}

void AppsCluster::start_node(size_t i) {
  Node& n = nodes_[i];
  if (n.up) return;
  n.up = true;
  n.wake_at = kTimeNever;
  n.sup_wake_at = kTimeNever;
  for (size_t o = 0; o < n_; ++o) unreachable_since_[o][i] = kTimeNever;
  if (n.voter) {
    if (!n.store) {
      n.store = std::make_unique<raft::MemoryLogStore>();
      std::vector<raft::NodeId> founders;
      for (size_t k = 0; k < size_t(p_.voters); ++k) founders.push_back(nodes_[k].id);
      if (Status s = raft::bootstrap(*n.store, founders); !s.ok()) return fail("bootstrap", s.to_string());
    }
    auto meta = n.store->snapshot_meta();
    auto data = n.store->snapshot_data();
    if (!meta.ok() || !data.ok()) return fail("restart from disk", n.id + ": snapshot unreadable");
    n.app = AppState();
    if (Status s = n.app.restore(*data); !s.ok()) return fail("restart from disk", n.id + ": " + s.to_string());
    n.last_version = n.app.current_version();
    auto core = raft::Core::open(config_, n.id, *n.store, rng_.fork(), meta->index, now_);
    if (!core.ok()) return fail("restart from disk", n.id + ": " + core.status().to_string());
    n.core = std::move(*core);
    n.leader = LeaderState{};
    (void)step(i, raft::Tick{});
  }
  start_supervisor(i);
}

void AppsCluster::crash_node(size_t i) {
  Node& n = nodes_[i];
  if (!n.up) return;
  ++crashes_;
  n.up = false;
  ++n.gen;
  n.core.reset();  // the log store is kept: it is the node's disk
  n.app = AppState();
  n.deploys.clear();  // the deployer notices (apps_leader.cc) and tries again
  n.leader = LeaderState{};
  n.sup.reset();
  n.procs.clear();  // the machine went down with its processes
  n.wake_at = kTimeNever;
  n.sup_wake_at = kTimeNever;
  n.frozen_until = TimePoint{};
}

raft::Actions AppsCluster::step(size_t i, const raft::Event& ev) {
  Node& n = nodes_[i];
  if (!n.up || !n.core || stopped_) return {};
  const bool was_leader = n.core->role() == raft::Role::leader;
  raft::Actions a = n.core->step(ev, now_);
  try {
    n.core->check_invariants();
  } catch (const std::logic_error& e) {
    fail("core invariants", e.what());
    return {};
  }
  if (!n.core->stopped().ok()) {
    fail("core running", n.id + " stopped: " + n.core->stopped().to_string());
    return {};
  }
  if (!was_leader && n.core->role() == raft::Role::leader) ++elections_;
  raft::Actions out;
  out.status = a.status;
  out.proposed = a.proposed;
  handle(i, std::move(a));
  return out;
}

// The shell's part of the contract in raft/core.h, with a disk that syncs at once.
void AppsCluster::handle(size_t i, raft::Actions a) {
  Node& n = nodes_[i];
  const uint32_t gen = n.gen;
  TimePoint w = a.wake_at;
  if (w <= now_) w = now_ + std::chrono::microseconds(1);  // never at the same instant
  if (w < n.wake_at) {
    n.wake_at = w;
    Ev e;
    e.at = w;
    e.kind = Kind::wake;
    e.node = uint32_t(i);
    e.gen = n.gen;
    push(std::move(e));
  }
  if (!a.persist.empty()) {
    if (Status s = n.store->write(a.persist, a.must_sync); !s.ok()) {
      return fail("store write", n.id + ": " + s.to_string());
    }
  }
  for (auto* list : {&a.send_now, &a.send_after_persist}) {
    for (auto& m : *list) {
      const size_t to = index_of(raft::header(m).to);
      const size_t bytes = message_bytes(m);
      if (to != SIZE_MAX) send(i, to, std::move(m), bytes);
    }
  }
  if (a.restore) {
    if (Status s = n.app.restore(*a.restore->data); !s.ok()) {
      return fail("snapshot install", n.id + ": " + s.to_string());
    }
    n.last_version = n.app.current_version();
  }
  for (const raft::Entry& e : a.apply) {
    Bytes result = n.app.apply(e);
    after_apply(i, e, result);
    if (stopped_ || !n.up || n.gen != gen) return;
  }
  if (!a.persist.entries.empty()) {
    const raft::Entry& last = a.persist.entries.back();
    (void)step(i, raft::Persisted{{last.term, last.index}});
  }
  if (!n.up || n.gen != gen || stopped_ || !n.core) return;
  if (!a.apply.empty() || a.restore) {
    (void)step(i, raft::Applied{a.apply.empty() ? a.restore->meta.index : a.apply.back().index});
  }
}

void AppsCluster::send(size_t from, size_t to, Payload p, size_t bytes) {
  ++report_.packets_sent;
  report_.bytes_sent += bytes;
  arrivals_.clear();
  if (from == to) {
    arrivals_.push_back(now_ + std::chrono::microseconds(50));  // loopback
  } else {
    net_.route_packet(from, to, bytes, now_, net_rng_, arrivals_);
  }
  if (arrivals_.empty()) {
    ++report_.packets_lost;
    return;
  }
  auto shared = std::make_shared<Payload>(std::move(p));
  for (TimePoint at : arrivals_) {
    Ev e;
    e.at = at;
    e.kind = Kind::message;
    e.node = uint32_t(to);
    e.gen = uint32_t(from);
    e.payload = shared;
    push(std::move(e));
  }
}

std::vector<size_t> AppsCluster::resolve(const NodeSelector& sel, const std::vector<size_t>& exclude) {
  return sel.resolve(n_, exclude, rng_);
}

// Faults the apps engine models (Scenario::validate refuses the others). Besides the
// scenario's node selectors, `nodes = ["leader"]` is not a thing: to kill the group's
// leader, a scenario names a voter and the seed decides whether it leads.
void AppsCluster::apply_fault(const FaultEvent& f) {
  using K = FaultEvent::Kind;
  const std::vector<size_t> nodes = resolve(f.nodes, {});
  auto to_set = [&](const std::vector<size_t>& v) {
    NodeSet s(n_);
    for (size_t i : v) s.add(i);
    return s;
  };
  std::string label = fmt::format("{} n{}", to_string(f.kind), fmt::join(nodes, ",n"));
  switch (f.kind) {
    case K::kill:
      for (size_t i : nodes) {
        if (nodes_[i].up && nodes_[i].core && nodes_[i].core->role() == raft::Role::leader) ++leader_kills_;
        crash_node(i);
      }
      break;
    case K::restart:
      for (size_t i : nodes) {
        if (nodes_[i].up && nodes_[i].core && nodes_[i].core->role() == raft::Role::leader) ++leader_kills_;
        crash_node(i);
        ++restarts_;
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
    case K::pause:
      for (size_t i : nodes) {
        if (!nodes_[i].up) continue;
        nodes_[i].frozen_until = now_ + f.delay;
        Ev e;
        e.at = nodes_[i].frozen_until;
        e.kind = Kind::thaw;
        e.node = uint32_t(i);
        e.gen = nodes_[i].gen;
        push(std::move(e));  // before anything deferred to the same instant
      }
      break;
    case K::link:
      net_.add_rule(LinkRule{f.name, to_set(nodes), to_set(resolve(f.others, nodes)), !f.one_way, f.link});
      break;
    case K::clear_link:
      net_.remove_rules(f.name);
      label = "clear link " + (f.name.empty() ? std::string("all") : f.name);
      break;
    default:
      break;  // refused by Scenario::validate()
  }
  settle_from_ = now_;
  judged_ = false;
  report_.faults.emplace_back(to_seconds(now_ - kTimeZero), label);
}

}  // namespace shoal::sim
