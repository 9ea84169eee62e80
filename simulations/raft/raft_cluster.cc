// The event loop of a Raft group: nodes, the disk, the network and the shell around each
// core. Clients are in raft_clients.cc, faults in raft_faults.cc, checks in raft_checks.cc.
#include "simulations/raft/raft_cluster.h"

#include <fmt/format.h>

#include <algorithm>

namespace shoal::sim {

namespace {

constexpr uint64_t kFnvPrime = 1099511628211ULL;
constexpr Duration kReconcileEvery = std::chrono::milliseconds(100);

size_t message_bytes(const raft::Message& m) {
  size_t bytes = 48;
  if (const auto* a = std::get_if<raft::AppendEntries>(&m)) {
    for (const auto& e : a->entries) bytes += 24 + e.data.size();
  } else if (const auto* s = std::get_if<raft::InstallSnapshot>(&m)) {
    bytes += s->chunk.size();
  }
  return bytes;
}

}  // namespace

RaftCluster::RaftCluster(const Scenario& scenario, const RunOptions& options)
    : sc_(scenario),
      p_(scenario.raft),
      opt_(options),
      n_(static_cast<size_t>(scenario.nodes)),
      rng_(options.seed),
      net_rng_(rng_.fork()),
      net_(n_ + static_cast<size_t>(scenario.raft.clients), scenario.network),
      nodes_(n_),
      clients_(static_cast<size_t>(scenario.raft.clients)) {
  config_ = raft::Config::local();
  config_.election_timeout_min = p_.election_timeout_min;
  config_.election_timeout_max = p_.election_timeout_max;
  config_.heartbeat_interval = p_.heartbeat_interval;
  config_.replication_timeout = p_.replication_timeout;
  config_.pre_vote = p_.pre_vote;
  config_.check_quorum = p_.check_quorum;
  config_.snapshot_chunk_bytes = static_cast<size_t>(p_.snapshot_chunk);
  config_.quiesce_after = p_.quiesce_after;
  for (size_t i = 0; i < n_; ++i) {
    nodes_[i].id = "n" + std::to_string(i);
    nodes_[i].founder = i < static_cast<size_t>(p_.voters);
    if (sc_.bandwidth > 0) net_.set_bandwidth(i, sc_.bandwidth);
  }
  for (size_t c = 0; c < clients_.size(); ++c) clients_[c].target = uint32_t(c % n_);
}

RaftCluster::~RaftCluster() = default;

void RaftCluster::push(Ev e) {
  e.seq = next_seq_++;
  heap_.push_back(std::move(e));
  std::push_heap(heap_.begin(), heap_.end(), Later{});
}

void RaftCluster::mix(uint64_t v) {
  for (int b = 0; b < 8; ++b) {
    report_.digest ^= (v >> (8 * b)) & 0xff;
    report_.digest *= kFnvPrime;
  }
}

void RaftCluster::fail(const std::string& check, const std::string& detail) {
  if (stopped_) return;
  stopped_ = true;
  report_.checks.push_back(
      {check, false, fmt::format("at {:.3f}s: {}", to_seconds(now_ - kTimeZero), detail)});
}

size_t RaftCluster::index_of(const raft::NodeId& id) const {
  if (id.size() < 2 || id[0] != 'n') return SIZE_MAX;
  size_t i = 0;
  for (size_t k = 1; k < id.size(); ++k) {
    if (id[k] < '0' || id[k] > '9') return SIZE_MAX;
    i = i * 10 + size_t(id[k] - '0');
  }
  return i < n_ ? i : SIZE_MAX;
}

std::optional<size_t> RaftCluster::leader() const {
  std::optional<size_t> best;
  for (size_t i = 0; i < n_; ++i) {
    const Node& n = nodes_[i];
    if (!n.up || n.core->role() != raft::Role::leader) continue;
    if (!best || n.core->term() > nodes_[*best].core->term()) best = i;
  }
  return best;
}

void RaftCluster::run() {
  report_.digest = 1469598103934665603ULL;
  end_ = kTimeZero + sc_.duration;
  quiet_at_ = p_.quiet < sc_.duration ? end_ - p_.quiet : kTimeZero;

  std::vector<raft::NodeId> founders;
  for (size_t i = 0; i < n_; ++i) {
    if (nodes_[i].founder) founders.push_back(nodes_[i].id);
  }
  for (size_t i = 0; i < n_; ++i) {
    if (!nodes_[i].founder) continue;
    want_voters_.insert(i);
    auto store = DurableLogStore::open(nodes_[i].disk);
    Status s = store.ok() ? raft::bootstrap(**store, founders) : store.status();
    if (!s.ok()) {
      fail("bootstrap", s.to_string());
      return finish();
    }
    nodes_[i].disk.sync();
  }
  for (size_t i = 0; i < n_; ++i) start_node(i);
  abandoned_.reserve(1024);
  for (uint32_t c = 0; c < clients_.size(); ++c) {
    Ev e;
    e.kind = Kind::client_next;
    e.node = c;
    e.at = now_ + Duration(rng_.uniform(uint64_t(std::max<Duration::rep>(1, p_.think.count()))));
    push(std::move(e));
  }
  for (size_t f = 0; f < sc_.timeline.size(); ++f) {
    push(Ev{kTimeZero + sc_.timeline[f].at, 0, Kind::fault, 0, 0, f, nullptr});
  }
  if (p_.nemesis_every > Duration::zero() && !p_.nemesis.empty()) {
    push(Ev{kTimeZero + p_.nemesis_every, 0, Kind::nemesis, 0, 0, 0, nullptr});
  }
  push(Ev{kTimeZero + kReconcileEvery, 0, Kind::reconcile, 0, 0, 0, nullptr});
  push(Ev{kTimeZero + sc_.sample_interval, 0, Kind::sample, 0, 0, 0, nullptr});
  if (p_.quiet > Duration::zero()) push(Ev{quiet_at_, 0, Kind::quiet, 0, 0, 0, nullptr});
  if (p_.quiesce_after > Duration::zero()) {
    push(Ev{kTimeZero + p_.detect_every, 0, Kind::detect, 0, 0, 0, nullptr});
  }

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

bool RaftCluster::hold_back(Ev& e, Node& n) {
  if (n.slow > Duration::zero() && e.id == 0) {
    e.id = 1;  // deferred once
    e.at = now_ + n.slow;
    push(std::move(e));
    return true;
  }
  if (now_ < n.frozen_until) {
    e.at = n.frozen_until;
    push(std::move(e));
    return true;
  }
  return false;
}

void RaftCluster::dispatch(Ev& e) {
  switch (e.kind) {
    case Kind::wake: {
      Node& n = nodes_[e.node];
      if (!n.up || e.gen != n.gen || e.at != n.wake_at) return;  // stale
      if (now_ < n.frozen_until) {
        n.wake_at = e.at = n.frozen_until;
        push(std::move(e));
        return;
      }
      n.wake_at = kTimeNever;
      step(e.node, raft::Tick{});
      return;
    }
    case Kind::disk: {
      Node& n = nodes_[e.node];
      if (!n.up || e.gen != n.gen) return;
      while (n.up && e.gen == n.gen && !n.disk_queue.empty() && n.disk_queue.front().first <= now_) {
        raft::Actions a = std::move(n.disk_queue.front().second);
        n.disk_queue.pop_front();
        complete(e.node, std::move(a));
        if (stopped_) return;
      }
      return;
    }
    case Kind::message: {
      if (e.node >= n_) {
        const auto* r = std::get_if<ClientReply>(e.payload.get());
        if (r != nullptr) client_reply(e.node - uint32_t(n_), *r);
        return;
      }
      Node& n = nodes_[e.node];
      if (!n.up) {
        ++report_.packets_lost;
        return;
      }
      if (hold_back(e, n)) return;
      ++report_.packets_delivered;
      mix(uint64_t(now_.time_since_epoch().count()));
      mix((uint64_t(e.gen) << 32) | e.node);
      if (const auto* m = std::get_if<raft::Message>(e.payload.get())) {
        step(e.node, raft::MessageIn{*m});
      } else if (const auto* r = std::get_if<ClientRequest>(e.payload.get())) {
        on_request(e.node, *r);
      }
      return;
    }
    case Kind::client_next: return client_next(e.node);
    case Kind::client_timeout: return client_timeout(e.node, e.id);
    case Kind::client_retry: {
      Client& c = clients_[e.node];
      if (c.busy && c.req == e.id) client_send(e.node);
      return;
    }
    case Kind::fault: return apply_fault(sc_.timeline[e.id]);
    case Kind::nemesis:
      if (quiet_) return;
      nemesis();
      e.at = now_ + p_.nemesis_every / 2 + Duration(rng_.uniform(uint64_t(p_.nemesis_every.count())));
      push(std::move(e));
      return;
    case Kind::undo: return undo(e.id);
    case Kind::reconcile:
      reconcile();
      e.at = now_ + kReconcileEvery;
      push(std::move(e));
      return;
    case Kind::sample:
      take_sample();
      e.at = now_ + sc_.sample_interval;
      push(std::move(e));
      return;
    case Kind::quiet: return begin_quiet();
    case Kind::detect:
      detect_failures();
      e.at = now_ + p_.detect_every;
      push(std::move(e));
      return;
  }
}

// What gossip does for the agent's Raft host: a node learns that a peer is down once it
// can no longer hear from it. Only quiet cores care (raft::Host steps only those).
void RaftCluster::detect_failures() {
  for (size_t i = 0; i < n_; ++i) {
    if (!nodes_[i].up) continue;
    for (size_t j = 0; j < n_; ++j) {
      if (j == i || (nodes_[j].up && !net_.blocked(j, i))) continue;
      if (!nodes_[i].core->quiesced()) continue;
      ++peer_downs_;
      step(i, raft::PeerDown{nodes_[j].id});
      if (stopped_) return;
    }
  }
}

void RaftCluster::start_node(size_t i) {
  Node& n = nodes_[i];
  if (n.up) return;
  auto store = DurableLogStore::open(n.disk);
  if (!store.ok()) return fail("restart from disk", n.id + ": " + store.status().to_string());
  auto meta = (*store)->snapshot_meta();
  auto data = (*store)->snapshot_data();
  if (!meta.ok() || !data.ok()) return fail("restart from disk", n.id + ": snapshot unreadable");
  KvMachine kv;
  if (Status s = kv.restore(*data, meta->index); !s.ok()) {
    return fail("restart from disk", n.id + ": " + s.to_string());
  }
  auto core = raft::Core::open(config_, n.id, **store, rng_.fork(), kv.index(), local(i));
  if (!core.ok()) return fail("restart from disk", n.id + ": " + core.status().to_string());
  n.store = std::move(*store);
  n.core = std::move(*core);
  n.kv = std::move(kv);
  n.up = true;
  n.wake_at = kTimeNever;
  if (n.gen > 0) ++restarts_;
  step(i, raft::Tick{});
}

void RaftCluster::crash_node(size_t i) {
  Node& n = nodes_[i];
  if (!n.up) return;
  ++crashes_;
  n.core.reset();
  n.store.reset();
  n.disk.crash();  // what was not synced is gone, with the disk work still queued
  if (p_.amnesia) n.disk = DurableStore{};
  n.disk_queue.clear();
  n.writes.clear();
  n.reads.clear();
  n.confirmed_reads.clear();
  n.up = false;
  ++n.gen;
  n.wake_at = kTimeNever;
  n.slow = Duration::zero();
  n.frozen_until = TimePoint{};
}

RaftCluster::StepResult RaftCluster::step(size_t i, const raft::Event& ev) {
  Node& n = nodes_[i];
  if (!n.up || stopped_) return {Status::unavailable("node is down"), std::nullopt};
  const bool was_quiet = n.core->quiesced();
  raft::Actions a = n.core->step(ev, local(i));
  if (!was_quiet && n.core->quiesced() && n.core->role() == raft::Role::leader) ++quiesces_;
  ++n.steps;
  try {
    n.core->check_invariants();
  } catch (const std::logic_error& e) {
    fail("core invariants", e.what());
    return {a.status, a.proposed};
  }
  if (!n.core->stopped().ok()) {
    fail("core running", n.id + " stopped: " + n.core->stopped().to_string());
    return {a.status, a.proposed};
  }
  check_step(i);
  if (stopped_) return {a.status, a.proposed};
  if (proposing_ && a.proposed) {
    n.writes[a.proposed->index] = {a.proposed->term, proposing_->client, proposing_->req};
  }
  proposing_.reset();
  StepResult r{a.status, a.proposed};
  handle(i, std::move(a));
  return r;
}

void RaftCluster::handle(size_t i, raft::Actions a) {
  Node& n = nodes_[i];
  TimePoint w = n.clock.to_global(a.wake_at);
  if (w <= now_) {
    // More committed entries to hand out (the core caps each step's apply batch): tick again
    // right after, never at the same instant, so a core that keeps asking cannot stall time.
    ++past_wakeups_;
    w = now_ + std::chrono::microseconds(1);
  }
  if (w < n.wake_at) {
    n.wake_at = w;
    push(Ev{n.wake_at, 0, Kind::wake, uint32_t(i), n.gen, 0, nullptr});
  }
  for (auto& m : a.send_now) {
    const size_t to = index_of(raft::header(m).to);
    const size_t bytes = message_bytes(m);
    if (to != SIZE_MAX) send(i, to, std::move(m), bytes);
  }
  a.send_now.clear();
  const bool disk_work = !a.persist.empty() || !a.send_after_persist.empty() || a.restore ||
                         !a.apply.empty() || !a.reads_ready.empty() || !a.reads_failed.empty();
  if (!disk_work) return;
  const Duration d = a.persist.empty() ? Duration::zero() : p_.disk.sample(net_rng_);
  if (n.disk_queue.empty() && d == Duration::zero()) return complete(i, std::move(a));
  TimePoint at = now_ + d;
  if (!n.disk_queue.empty()) at = std::max(at, n.disk_queue.back().first);
  n.disk_queue.emplace_back(at, std::move(a));
  push(Ev{at, 0, Kind::disk, uint32_t(i), n.gen, 0, nullptr});
}

void RaftCluster::complete(size_t i, raft::Actions a) {
  Node& n = nodes_[i];
  const uint32_t gen = n.gen;
  if (!a.persist.empty()) {
    if (Status s = n.store->write(a.persist, a.must_sync); !s.ok()) {
      return fail("store write", n.id + ": " + s.to_string());
    }
  }
  for (auto& m : a.send_after_persist) {
    const size_t to = index_of(raft::header(m).to);
    const size_t bytes = message_bytes(m);
    if (to != SIZE_MAX) send(i, to, std::move(m), bytes);
  }
  if (a.restore) {
    ++installs_;
    if (Status s = n.kv.restore(*a.restore->data, a.restore->meta.index); !s.ok()) {
      return fail("snapshot install", n.id + ": " + s.to_string());
    }
    // Whether a waiting proposal made it into the snapshot is unknown here: the client asks
    // again, and the machine's session table answers.
    for (auto it = n.writes.begin(); it != n.writes.end() && it->first <= n.kv.index();) {
      reply(i, it->second.client, {it->second.req, ClientReply::Kind::failed, "", ""});
      it = n.writes.erase(it);
    }
  }
  for (const raft::Entry& e : a.apply) {
    check_apply(i, e);
    if (stopped_) return;
    if (Status s = n.kv.apply(e); !s.ok()) return fail("apply", n.id + ": " + s.to_string());
    if (auto it = n.writes.find(e.index); it != n.writes.end()) {
      const bool ours = it->second.term == e.term;
      reply(i, it->second.client,
            {it->second.req, ours ? ClientReply::Kind::ok : ClientReply::Kind::failed, "", ""});
      n.writes.erase(it);
    }
  }
  for (const auto& r : a.reads_ready) {
    auto it = n.reads.find(r.id);
    if (it == n.reads.end()) continue;
    it->second.index = r.index;
    n.confirmed_reads.push_back(std::move(it->second));
    n.reads.erase(it);
  }
  for (const auto& f : a.reads_failed) {
    auto it = n.reads.find(f.id);
    if (it == n.reads.end()) continue;
    reply(i, it->second.client, {it->second.req, ClientReply::Kind::failed, "", ""});
    n.reads.erase(it);
  }
  after_apply(i);
  if (!a.persist.entries.empty()) {
    const raft::Entry& last = a.persist.entries.back();
    step(i, raft::Persisted{{last.term, last.index}});
  }
  if (!n.up || n.gen != gen || stopped_) return;
  if (!a.apply.empty() || a.restore) {
    step(i, raft::Applied{n.kv.index()});
    if (p_.snapshot_every > 0 && n.up &&
        n.kv.index() >= n.core->log().snapshot().index + uint64_t(p_.snapshot_every)) {
      StepResult r = step(i, raft::SnapshotTaken{n.kv.index(), n.kv.snapshot()});
      (r.status.ok() ? snapshots_ : snapshots_refused_)++;
    }
  }
}

void RaftCluster::send(size_t from, size_t to, Payload p, size_t bytes) {
  ++report_.packets_sent;
  report_.bytes_sent += bytes;
  arrivals_.clear();
  net_.route_packet(from, to, bytes, now_, net_rng_, arrivals_);
  if (arrivals_.empty()) {
    ++report_.packets_lost;
    return;
  }
  auto shared = std::make_shared<Payload>(std::move(p));
  for (TimePoint at : arrivals_) {
    push(Ev{at, 0, Kind::message, uint32_t(to), uint32_t(from), 0, shared});
  }
}

}  // namespace shoal::sim
