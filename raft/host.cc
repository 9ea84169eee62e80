#include "raft/host.h"

#include <fmt/format.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "raft/codec.h"
#include "raft/host_group.h"

namespace shoal::raft {

namespace {

// The host's directory of groups: 'g' | group (big-endian) -> sealed empty payload. A group
// is on this node exactly when its key is; its log lives under the store's 'r' prefix.
constexpr char kDirPrefix = 'g';

std::string dir_key(GroupId group) {
  std::string k(1, kDirPrefix);
  for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>(group >> (8 * i)));
  return k;
}

leveldb::Slice slice(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

}  // namespace

Host::Host(HostOptions options, std::shared_ptr<LevelDb> db, StateMachineFactory factory,
           uint64_t seed)
    : opts_(std::move(options)),
      db_(std::move(db)),
      factory_(std::move(factory)),
      rng_(seed),
      wb_(std::make_unique<leveldb::WriteBatch>()) {}

Host::~Host() = default;

Result<std::unique_ptr<Host>> Host::open(HostOptions options, std::shared_ptr<LevelDb> db,
                                         StateMachineFactory factory, uint64_t seed,
                                         TimePoint now) {
  SHOAL_RETURN_IF_ERROR(options.config.validate());
  if (options.self.empty() || options.self.size() > kMaxNodeIdBytes) {
    return Status::invalid_argument("raft host needs a node id of 1 to 255 bytes");
  }
  if (options.tick <= Duration::zero()) return Status::invalid_argument("tick must be positive");
  std::unique_ptr<Host> host(new Host(std::move(options), std::move(db), std::move(factory), seed));
  std::vector<GroupId> ids;
  {
    const std::string prefix(1, kDirPrefix);
    std::unique_ptr<leveldb::Iterator> it(host->db_->raw()->NewIterator({}));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      if (key.size() != 9) return Status::corruption(fmt::format("group key of {} bytes", key.size()));
      auto payload = codec::unseal(key, as_bytes({it->value().data(), it->value().size()}));
      if (!payload.ok()) return payload.status().with_context("raft group directory");
      GroupId id = 0;
      for (size_t i = 1; i < 9; ++i) id = (id << 8) | static_cast<uint8_t>(key[i]);
      ids.push_back(id);
    }
    if (!it->status().ok()) return Status::io_error("scan raft group directory: " + it->status().ToString());
  }
  for (GroupId id : ids) {
    auto g = host->open_group(id, now);
    if (!g.ok()) return g.status();
    Group& ref = **g;
    host->groups_.emplace(id, std::move(*g));
    host->step(ref, Tick{}, now);  // replays committed entries into the state machine
  }
  spdlog::info("raft-host-open node={} groups={}", host->opts_.self, ids.size());
  return host;
}

Result<std::unique_ptr<Host::Group>> Host::open_group(GroupId id, TimePoint now) {
  auto g = std::make_unique<Group>();
  g->id = id;
  auto store = LevelDbLogStore::open(db_, id);
  if (!store.ok()) return store.status();
  g->store = std::move(*store);
  g->machine = factory_(id);
  auto meta = g->store->snapshot_meta();
  if (!meta.ok()) return meta.status();
  if (meta->index > 0) {
    auto data = g->store->snapshot_data();
    if (!data.ok()) return data.status();
    if (Status s = g->machine->restore(*data); !s.ok()) {
      return s.with_context(fmt::format("raft group {}: restore snapshot", id));
    }
    g->snapshot_bytes = data->size();
  }
  g->applied = g->snapshot_index = meta->index;
  auto core = Core::open(opts_.config, opts_.self, *g->store, rng_.fork(), g->applied, now);
  if (!core.ok()) return core.status().with_context(fmt::format("raft group {}", id));
  g->core = std::move(*core);
  return g;
}

Host::Group* Host::find(GroupId id) {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.get();
}

std::vector<GroupId> Host::groups() const {
  std::vector<GroupId> out;
  out.reserve(groups_.size());
  for (const auto& [id, g] : groups_) out.push_back(id);
  return out;
}

Status Host::create_group(GroupId id, std::vector<NodeId> voters, TimePoint now) {
  if (!failed_.ok()) return failed_;
  if (groups_.count(id)) return Status::already_exists(fmt::format("raft group {} exists", id));
  if (deleting_.count(id)) {
    return Status::failed_precondition(
        fmt::format("raft group {} is being deleted; create it again in a moment", id));
  }
  if (groups_.size() >= opts_.max_groups) {
    return Status::failed_precondition(
        fmt::format("this node hosts {} groups, the limit", opts_.max_groups));
  }
  std::sort(voters.begin(), voters.end());
  if (std::adjacent_find(voters.begin(), voters.end()) != voters.end()) {
    return Status::invalid_argument("a voter is listed twice");
  }
  for (const auto& v : voters) {
    if (v.empty() || v.size() > kMaxNodeIdBytes) {
      return Status::invalid_argument("voter ids must be 1 to 255 bytes");
    }
  }
  if (!voters.empty() && !std::binary_search(voters.begin(), voters.end(), opts_.self)) {
    return Status::invalid_argument(
        fmt::format("voters must include this node ('{}') to found a group here", opts_.self));
  }
  // Everything the new group writes goes into this turn's batch, with its directory key, so
  // a crash before the flush leaves no trace of it.
  auto store = LevelDbLogStore::open(db_, id);
  if (!store.ok()) return store.status();
  if ((*store)->last_index() != 0 || (*store)->snapshot_meta()->index != 0) {
    return Status::corruption(fmt::format("raft group {} has records but no directory entry", id));
  }
  if (!voters.empty()) {
    LogWrite first;
    SnapshotMeta meta;
    meta.index = 1;
    for (const auto& v : voters) meta.config = apply_config_change(meta.config, {ConfigChangeType::add_voter, v});
    first.snapshot = SnapshotWrite{meta, std::make_shared<const Bytes>()};
    SHOAL_RETURN_IF_ERROR((*store)->stage(first, *wb_));
  }
  const std::string key = dir_key(id);
  wb_->Put(key, slice(codec::seal(key, {})));
  wb_dirty_ = wb_sync_ = true;

  auto g = std::make_unique<Group>();
  g->id = id;
  g->store = std::move(*store);
  g->machine = factory_(id);
  g->applied = g->snapshot_index = voters.empty() ? 0 : 1;
  auto core = Core::open(opts_.config, opts_.self, *g->store, rng_.fork(), g->applied, now);
  if (!core.ok()) return core.status().with_context(fmt::format("raft group {}", id));
  g->core = std::move(*core);
  Group& ref = *g;
  groups_.emplace(id, std::move(g));
  // The first founder campaigns at once rather than after a full election timeout; the
  // others may not have the group yet, in which case the timeout retries.
  if (!voters.empty() && voters.front() == opts_.self) {
    step(ref, Campaign{}, now);
  } else {
    step(ref, Tick{}, now);
  }
  spdlog::info("raft-group-created group={} voters={} joining={}", id, voters.size(),
               voters.empty());
  return Status::ok_status();
}

Status Host::delete_group(GroupId id) {
  if (!failed_.ok()) return failed_;
  Group* g = find(id);
  if (!g) return Status::not_found(fmt::format("no raft group {} on this node", id));
  SHOAL_RETURN_IF_ERROR(g->store->stage_destroy(*wb_));
  wb_->Delete(dir_key(id));
  wb_dirty_ = wb_sync_ = true;
  timers_.erase({g->wake_at, id});
  const Status gone = Status::unavailable(fmt::format("raft group {} was deleted", id));
  for (auto& [index, p] : g->proposals) complete({p.id, id, gone, index, {}, {}});
  for (auto& r : g->reads) complete({r.id, id, gone, r.index, {}, {}});
  // Messages that were waiting for the disk may still go; the rest is dropped.
  for (auto& a : g->deferred) {
    for (auto& m : a.send_after_persist) out_.sends[header(m).to].push_back({id, std::move(m)});
  }
  groups_.erase(id);
  deleting_.insert(id);
  spdlog::info("raft-group-deleted group={}", id);
  return Status::ok_status();
}

void Host::schedule(Group& g, TimePoint wake_at, TimePoint now) {
  TimePoint at = wake_at;
  if (at != kTimeNever) {
    if (at <= now) {
      at = now;
    } else {
      const auto tick = opts_.tick.count();
      const auto t = at.time_since_epoch().count();
      at = TimePoint(Duration((t + tick - 1) / tick * tick));
    }
  }
  if (at == g.wake_at) return;
  if (g.wake_at != kTimeNever) timers_.erase({g.wake_at, g.id});
  g.wake_at = at;
  if (at != kTimeNever) timers_.insert({at, g.id});
}

void Host::step(Group& g, const Event& ev, TimePoint now) {
  if (!g.core->stopped().ok()) return;
  handle(g, g.core->step(ev, now), now);
}

void Host::handle(Group& g, Actions a, TimePoint now) {
  const TimePoint wake_at = a.wake_at;
  if (!g.core->stopped().ok()) {
    spdlog::error("raft-group-stopped group={} reason=\"{}\"", g.id, g.core->stopped().to_string());
    timers_.erase({g.wake_at, g.id});
    g.wake_at = kTimeNever;
    return;
  }
  if (!a.persist.empty()) {
    if (Status s = g.store->stage(a.persist, *wb_); !s.ok()) {
      // A misuse by the core would land here; the group cannot go on with a store that
      // disagrees with it.
      failed_ = s.with_context(fmt::format("raft group {}", g.id));
      spdlog::error("raft-host-failed reason=\"{}\"", failed_.to_string());
      return;
    }
    wb_dirty_ = true;
    wb_sync_ = wb_sync_ || a.must_sync;
    if (!a.persist.entries.empty()) {
      const Entry& last = a.persist.entries.back();
      g.persisted = LogPosition{last.term, last.index};
    }
  }
  for (auto& m : a.send_now) out_.sends[header(m).to].push_back({g.id, std::move(m)});
  a.send_now.clear();
  if (!a.send_after_persist.empty() || a.restore || !a.apply.empty() || !a.reads_ready.empty() ||
      !a.reads_failed.empty()) {
    g.deferred.push_back(std::move(a));
  }
  if (!g.touched && (g.persisted || !g.deferred.empty())) {
    g.touched = true;
    touched_.push_back(g.id);
  }
  schedule(g, wake_at, now);
}

void Host::receive(const NodeId& from, std::vector<Envelope> envelopes, TimePoint now) {
  if (!failed_.ok()) return;
  for (auto& env : envelopes) {
    ++counters_.messages_in;
    if (from == opts_.self) {
      ++counters_.rejected_from_self;
      continue;
    }
    Group* g = find(env.group);
    if (!g) {
      ++counters_.rejected_unknown_group;
      spdlog::debug("raft-reject reason=unknown-group group={} from={} message={}", env.group,
                    from, message_name(env.message));
      continue;
    }
    if (header(env.message).term < g->core->term()) ++counters_.stale_term;
    step(*g, MessageIn{std::move(env.message)}, now);
  }
}

void Host::propose(GroupId id, Bytes data, uint64_t req, TimePoint now) {
  Group* g = find(id);
  if (!failed_.ok() || !g) {
    complete({req, id, failed_.ok() ? Status::not_found(fmt::format("no raft group {} on this node", id)) : failed_, 0, {}, {}});
    return;
  }
  if (!g->core->stopped().ok()) {
    complete({req, id, g->core->stopped(), 0, {}, {}});
    return;
  }
  ++g->proposed;
  Actions a = g->core->step(Propose{std::move(data)}, now);
  const Status st = a.status;
  const auto at = a.proposed;
  handle(*g, std::move(a), now);
  if (!st.ok() || !at) {
    complete({req, id, st.ok() ? Status::internal("proposal not placed") : st, 0, {},
              g->core->leader()});
    return;
  }
  g->proposals[at->index] = {req, at->term};
}

void Host::read(GroupId id, uint64_t req, TimePoint now) {
  Group* g = find(id);
  if (!failed_.ok() || !g) {
    complete({req, id, failed_.ok() ? Status::not_found(fmt::format("no raft group {} on this node", id)) : failed_, 0, {}, {}});
    return;
  }
  step(*g, ReadIndex{req}, now);
}

Status Host::add_member(GroupId id, const NodeId& node, bool voter, TimePoint now) {
  Group* g = find(id);
  if (!g) return Status::not_found(fmt::format("no raft group {} on this node", id));
  if (node.empty() || node.size() > kMaxNodeIdBytes) {
    return Status::invalid_argument("member ids must be 1 to 255 bytes");
  }
  const ConfigState& cfg = g->core->config();
  if (voter && cfg.is_voter(node)) return Status::ok_status();
  Actions a;
  if (!cfg.contains(node)) {
    a = g->core->step(ChangeMembership{{ConfigChangeType::add_learner, node}}, now);
  }
  const Status st = a.status;
  handle(*g, std::move(a), now);
  SHOAL_RETURN_IF_ERROR(st);
  if (voter && std::find(g->promoting.begin(), g->promoting.end(), node) == g->promoting.end()) {
    g->promoting.push_back(node);
  }
  return Status::ok_status();
}

Status Host::remove_member(GroupId id, const NodeId& node, TimePoint now) {
  Group* g = find(id);
  if (!g) return Status::not_found(fmt::format("no raft group {} on this node", id));
  std::erase(g->promoting, node);
  Actions a = g->core->step(ChangeMembership{{ConfigChangeType::remove, node}}, now);
  const Status st = a.status;
  handle(*g, std::move(a), now);
  return st;
}

Status Host::transfer(GroupId id, const NodeId& target, TimePoint now) {
  Group* g = find(id);
  if (!g) return Status::not_found(fmt::format("no raft group {} on this node", id));
  Actions a = g->core->step(TransferLeadership{target}, now);
  const Status st = a.status;
  handle(*g, std::move(a), now);
  return st;
}

void Host::tick(TimePoint now) {
  if (!failed_.ok()) return;
  while (!timers_.empty() && timers_.begin()->first <= now) {
    const GroupId id = timers_.begin()->second;
    timers_.erase(timers_.begin());
    Group* g = find(id);
    if (!g) continue;
    g->wake_at = kTimeNever;
    step(*g, Tick{}, now);
    if (!g->promoting.empty()) maybe_promote(*g, now);
  }
}

void Host::peer_down(const NodeId& node, TimePoint now) {
  if (!failed_.ok() || node == opts_.self) return;
  // Only the followers of that node care (Core::leader_down).
  for (auto& [id, g] : groups_) {
    if (g->core->leader() == node && g->core->role() != Role::leader) step(*g, PeerDown{node}, now);
  }
}

void Host::maybe_promote(Group& g, TimePoint now) {
  if (g.core->role() != Role::leader) return;
  for (auto it = g.promoting.begin(); it != g.promoting.end();) {
    auto peer = g.core->peer(*it);
    if (!peer || !g.core->config().contains(*it)) {
      ++it;
      continue;
    }
    if (peer->voter) {
      it = g.promoting.erase(it);
      continue;
    }
    if (peer->match < g.core->commit_index()) {
      ++it;
      continue;
    }
    Actions a = g.core->step(ChangeMembership{{ConfigChangeType::add_voter, *it}}, now);
    const bool ok = a.status.ok();
    handle(g, std::move(a), now);
    if (!ok) return;  // another change is in flight: try again later
    it = g.promoting.erase(it);
  }
}

void Host::maybe_snapshot(Group& g, TimePoint now) {
  if (g.applied < g.snapshot_index + opts_.snapshot_every) return;
  if (g.applied_bytes < g.snapshot_bytes) return;  // (HostOptions::snapshot_every)
  if (g.applied > g.core->log().persisted_index()) return;  // not durable here yet
  Bytes data = g.machine->snapshot();
  const uint64_t size = data.size();
  Actions a = g.core->step(SnapshotTaken{g.applied, std::move(data)}, now);
  const Status st = a.status;
  handle(g, std::move(a), now);
  if (st.ok()) {
    g.snapshot_index = g.applied;
    g.snapshot_bytes = size;
    g.applied_bytes = 0;
    ++counters_.snapshots_taken;
  } else {
    spdlog::warn("raft-snapshot-failed group={} index={} reason=\"{}\"", g.id, g.applied,
                 st.to_string());
  }
}

Result<GroupStatus> Host::status(GroupId id) const {
  auto it = groups_.find(id);
  if (it == groups_.end()) return Status::not_found(fmt::format("no raft group {} on this node", id));
  const Group& g = *it->second;
  GroupStatus s;
  s.group = id;
  s.core = g.core->status();
  auto meta = g.store->snapshot_meta();
  if (meta.ok()) s.snapshot = *meta;
  s.promoting = g.promoting;
  s.stopped = g.core->stopped();
  s.proposals = g.proposed;
  return s;
}

const StateMachine* Host::machine(GroupId id) const {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second->machine.get();
}

HostCounters Host::counters() const { return counters_; }

}  // namespace shoal::raft
