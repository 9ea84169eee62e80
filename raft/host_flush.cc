// The end of a host turn: one write for every group, then what waited for it.
#include <fmt/format.h>
#include <leveldb/write_batch.h>
#include <spdlog/spdlog.h>

#include "raft/host.h"
#include "raft/host_group.h"

namespace shoal::raft {

namespace {
// Rounds of write-then-continue per flush: a Persisted can commit, a commit can apply, an
// apply can snapshot. More than a few rounds means a backlog; the rest waits a turn.
constexpr int kMaxRounds = 8;
}  // namespace

Result<HostOutput> Host::flush(TimePoint now) {
  if (!failed_.ok()) return failed_;
  for (int round = 0; round < kMaxRounds; ++round) {
    tick(now);  // wake-ups that are due now (e.g. more committed entries to apply)
    if (!failed_.ok()) return failed_;
    if (touched_.empty() && !wb_dirty_) break;
    if (wb_dirty_) {
      Status s = db_->write(*wb_, wb_sync_);
      ++counters_.writes;
      if (wb_sync_) ++counters_.syncs;
      wb_->Clear();
      wb_dirty_ = wb_sync_ = false;
      if (!s.ok()) {
        // The stores' bookkeeping now runs ahead of the disk: nothing may go on.
        failed_ = s;
        spdlog::error("raft-host-failed reason=\"{}\"", s.to_string());
        return failed_;
      }
      deleting_.clear();
    }
    std::vector<GroupId> touched = std::move(touched_);
    touched_.clear();
    for (GroupId id : touched) {
      Group* g = find(id);
      if (!g) continue;  // deleted in this turn
      g->touched = false;
      after_write(*g, now);
    }
  }
  if (!touched_.empty() || wb_dirty_) {
    // Still work left: come back at once.
    out_.wake_at = now;
  } else {
    out_.wake_at = timers_.empty() ? kTimeNever : timers_.begin()->first;
  }
  for (const auto& [peer, batch] : out_.sends) {
    ++counters_.batches_out;
    counters_.messages_out += batch.size();
  }
  HostOutput out = std::move(out_);
  out_ = HostOutput{};
  return out;
}

void Host::after_write(Group& g, TimePoint now) {
  std::vector<Actions> deferred = std::move(g.deferred);
  g.deferred.clear();
  const std::optional<LogPosition> persisted = g.persisted;
  g.persisted.reset();
  const Index applied_before = g.applied;
  for (Actions& a : deferred) {
    for (auto& m : a.send_after_persist) out_.sends[header(m).to].push_back({g.id, std::move(m)});
    if (a.restore) {
      const SnapshotWrite& snap = *a.restore;
      static const Bytes kEmpty;
      if (Status s = g.machine->restore(snap.data ? *snap.data : kEmpty); !s.ok()) {
        // The leader sent a snapshot our state machine cannot read: replicas would diverge
        // from here, so the host stops (the operator decides).
        spdlog::error("raft-group-restore-failed group={} index={} reason=\"{}\"", g.id,
                      snap.meta.index, s.to_string());
        failed_ = s.with_context(fmt::format("raft group {}: restore snapshot", g.id));
        return;
      }
      g.applied = g.snapshot_index = snap.meta.index;
      g.snapshot_bytes = snap.data ? snap.data->size() : 0;
      g.applied_bytes = 0;
      ++counters_.snapshots_installed;
      // Writes proposed here and covered by the snapshot: their outcome is unknown here.
      for (auto it = g.proposals.begin(); it != g.proposals.end() && it->first <= g.applied;) {
        complete({it->second.id, g.id,
                  Status::unavailable("outcome unknown: replaced by a snapshot from the leader"),
                  it->first, {}, g.core->leader()});
        it = g.proposals.erase(it);
      }
    }
    for (const Entry& e : a.apply) {
      if (e.index <= g.applied) continue;
      Bytes result;
      if (e.type == EntryType::normal) result = g.machine->apply(e);
      g.applied = e.index;
      g.applied_bytes += e.data.size();
      // Earlier proposals that were never applied were truncated away.
      for (auto it = g.proposals.begin(); it != g.proposals.end() && it->first <= e.index;) {
        if (it->first == e.index && it->second.term == e.term) {
          complete({it->second.id, g.id, Status::ok_status(), e.index, std::move(result), {}});
        } else {
          complete({it->second.id, g.id,
                    Status::unavailable("write lost: a new leader replaced it; retry"), it->first,
                    {}, g.core->leader()});
        }
        it = g.proposals.erase(it);
      }
    }
    for (const ReadState& r : a.reads_ready) g.reads.push_back(r);
    for (const ReadFailure& f : a.reads_failed) {
      complete({f.id, g.id, f.status, 0, {}, g.core->leader()});
    }
  }
  if (persisted) step(g, Persisted{*persisted}, now);
  if (g.applied != applied_before) step(g, Applied{g.applied}, now);
  if (!g.reads.empty()) {
    std::erase_if(g.reads, [&](const ReadState& r) {
      if (r.index > g.applied) return false;
      complete({r.id, g.id, Status::ok_status(), r.index, {}, {}});
      return true;
    });
  }
  if (!g.promoting.empty()) maybe_promote(g, now);
  maybe_snapshot(g, now);
}

}  // namespace shoal::raft
