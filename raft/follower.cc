// raft/follower.cc — what a member does with its leader's AppendEntries, Heartbeat and
// InstallSnapshot, and how the log and the configuration change underneath.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "raft/codec.h"
#include "raft/core.h"

namespace shoal::raft {

void Core::heard_from_leader(const NodeId& leader) {
  // Called with m.term == term_: a candidate that hears from a leader of its term lost.
  if (role_ != Role::follower) become_follower(term_, leader);
  leader_ = leader;
  leader_contact_ = now_;
  leader_down_ = false;
  reset_election_timer();
}

void Core::on_append_entries(const AppendEntries& m) {
  if (role_ == Role::leader) {
    spdlog::error("raft {}: second leader {} in term {}", self_, m.from, term_);
    return;  // two leaders in one term cannot happen; never act on it
  }
  heard_from_leader(m.from);
  AppendEntriesResponse r;
  r.term = term_, r.from = self_, r.to = m.from;

  // Reject malformed input before looking at it: entries must follow prev contiguously,
  // with terms that never decrease and never exceed the leader's.
  Term prev_term = m.prev.term;
  for (size_t i = 0; i < m.entries.size(); ++i) {
    const Entry& e = m.entries[i];
    if (e.index != m.prev.index + 1 + i || e.term < prev_term || e.term > m.term) {
      spdlog::debug("raft {}: malformed AppendEntries from {} (entry {})", self_, m.from, i);
      return;
    }
    prev_term = e.term;
  }

  if (m.prev.index < commit_) {
    // Everything up to commit_ is already known to match: a delayed or duplicated append.
    r.success = true;
    r.match = commit_;
    send(std::move(r));
    return;
  }
  if (!log_.matches(m.prev.index, m.prev.term)) {
    // Hint: our last entry at or below prev whose term is <= prev.term. Entries at or
    // below commit_ match the leader and so satisfy that; stop scanning there.
    Index k = std::min(m.prev.index, log_.last_index());
    while (k > commit_ && log_.term_at(k).value_or(0) > m.prev.term) --k;
    r.rejected = m.prev.index;
    r.hint_index = k;
    r.hint_term = log_.term_at(k).value_or(0);
    send(std::move(r));
    return;
  }

  // Skip what we have; the first entry whose term differs and everything after it goes.
  size_t keep = 0;
  while (keep < m.entries.size() && log_.matches(m.entries[keep].index, m.entries[keep].term)) {
    ++keep;
  }
  if (keep < m.entries.size()) {
    const Index first_new = m.entries[keep].index;
    if (first_new <= commit_) {
      spdlog::error("raft {}: leader {} would overwrite committed entry {}", self_, m.from,
                    first_new);
      return;
    }
    if (first_new <= log_.last_index()) truncate_log(first_new);
    append_to_log({m.entries.begin() + static_cast<ptrdiff_t>(keep), m.entries.end()});
  }
  r.success = true;
  r.match = m.prev.index + m.entries.size();
  commit_ = std::max(commit_, std::min(m.commit, r.match));
  send(std::move(r));
}

void Core::on_heartbeat(const Heartbeat& m) {
  if (role_ == Role::leader) return;
  heard_from_leader(m.from);
  // The leader sends min(its commit, our match): entries up to there equal its own.
  commit_ = std::max(commit_, std::min(m.commit, log_.last_index()));
  if (m.quiesce && m.commit == log_.last_index()) {
    // Caught up with an idle leader: no election timer until the group has work again.
    quiesced_ = true;
    election_deadline_ = kTimeNever;
  }
  HeartbeatResponse r;
  r.term = term_, r.from = self_, r.to = m.from, r.read_seq = m.read_seq;
  r.last_index = log_.last_index();
  send(std::move(r));
}

void Core::on_install_snapshot(const InstallSnapshot& m) {
  if (role_ == Role::leader) return;
  heard_from_leader(m.from);
  InstallSnapshotResponse r;
  r.term = term_, r.from = self_, r.to = m.from, r.snapshot_index = m.meta.index;
  if (m.meta.index <= commit_) {
    // We hold everything it covers already.
    incoming_.reset();
    r.installed = true;
    send(std::move(r));
    return;
  }
  const bool same = incoming_ && incoming_->meta == m.meta && incoming_->from == m.from &&
                    incoming_->term == term_;
  if (m.offset == 0) {
    if (m.total_bytes > cfg_.max_snapshot_bytes) {
      spdlog::warn("raft {}: refusing snapshot of {} bytes from {} (limit {})", self_,
                   m.total_bytes, m.from, cfg_.max_snapshot_bytes);
      incoming_.reset();
      send(std::move(r));
      return;
    }
    incoming_ = Incoming{m.meta, m.from, term_, {}};
  } else if (!same || m.offset != incoming_->data.size()) {
    r.next_offset = same ? incoming_->data.size() : 0;  // resume where we are, or restart
    send(std::move(r));
    return;
  }
  Bytes& data = incoming_->data;
  if (data.size() + m.chunk.size() > m.total_bytes) {
    incoming_.reset();  // chunks disagree with the announced size: start over
    send(std::move(r));
    return;
  }
  data.insert(data.end(), m.chunk.begin(), m.chunk.end());
  r.next_offset = data.size();
  if (!m.done) {
    send(std::move(r));
    return;
  }
  if (data.size() != m.total_bytes) {
    incoming_.reset();
    r.next_offset = 0;
    send(std::move(r));
    return;
  }

  SnapshotWrite snap{m.meta, std::make_shared<const Bytes>(std::move(data))};
  incoming_.reset();
  if (log_.matches(m.meta.index, m.meta.term)) {
    // Our log already reaches the snapshot and agrees there: keep it, just commit.
    commit_ = m.meta.index;
  } else {
    log_.install(snap);
    base_config_ = m.meta.config;
    config_index_ = m.meta.index;
    log_configs_.clear();
    recompute_config();
    commit_ = m.meta.index;
    applied_ = m.meta.index;
    next_apply_ = m.meta.index + 1;
    snapshot_ = snap;
    out_->restore = std::move(snap);
    spdlog::debug("raft {}: installed snapshot at {} from {}", self_, m.meta.index, m.from);
  }
  r.installed = true;
  send(std::move(r));
}

void Core::append_to_log(std::vector<Entry> entries) {
  std::vector<std::pair<Index, Bytes>> changes;
  for (const Entry& e : entries) {
    if (e.type == EntryType::config_change) changes.emplace_back(e.index, e.data);
  }
  log_.append(std::move(entries));
  for (const auto& [index, data] : changes) {
    auto change = codec::decode_config_change(data);
    if (!change.ok()) {
      // Only a leader creates these, from a validated change; keep the entry (the log must
      // match the leader's) but let it change nothing.
      spdlog::error("raft {}: config entry {}: {}", self_, index, change.status().to_string());
      continue;
    }
    log_configs_.emplace_back(index, apply_config_change(config_, *change));
    recompute_config();
  }
}

void Core::truncate_log(Index from) {
  log_.truncate(from);
  while (!log_configs_.empty() && log_configs_.back().first >= from) log_configs_.pop_back();
  recompute_config();
}

void Core::recompute_config() {
  if (log_configs_.empty()) {
    config_ = base_config_;
    config_index_ = log_.snapshot().index;
  } else {
    config_ = log_configs_.back().second;
    config_index_ = log_configs_.back().first;
  }
  if (role_ == Role::leader) sync_progress_with_config();
}

ConfigState Core::config_at(Index index) const {
  ConfigState c = base_config_;
  for (const auto& [at, config] : log_configs_) {
    if (at > index) break;
    c = config;
  }
  return c;
}

}  // namespace shoal::raft
