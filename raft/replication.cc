// raft/replication.cc — the leader's side: sending appends and snapshots with flow control,
// handling the answers, advancing the commit index, confirming reads, and the commands only
// a leader accepts (proposals, membership changes, leadership transfer), plus compaction.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "raft/codec.h"
#include "raft/core.h"

namespace shoal::raft {

namespace {
Status not_leader(const NodeId& leader) {
  return Status::unavailable(
      leader.empty() ? std::string("not the leader (no leader known)")
                     : fmt::format("not the leader (leader: '{}')", leader));
}
}  // namespace

void Core::sync_progress_with_config() {
  for (const auto* list : {&config_.voters, &config_.learners}) {
    for (const NodeId& id : *list) {
      if (id == self_ || progress_.count(id)) continue;
      Progress p;
      p.next = log_.last_index() + 1;
      p.recent_active = true;  // a newcomer gets one check-quorum round of grace
      progress_.emplace(id, std::move(p));
    }
  }
  std::erase_if(progress_, [&](const auto& kv) { return !config_.contains(kv.first); });
  if (!transfer_target_.empty() && !config_.is_voter(transfer_target_)) transfer_target_.clear();
}

bool Core::send_append(const NodeId& to, Progress& pr) {
  if (pr.paused(cfg_.max_inflight_appends)) return false;
  if (pr.next < log_.first_index()) {
    // What it needs is compacted away: send the snapshot instead.
    pr.become_snapshot(snapshot_.meta.index);
    send_snapshot_chunk(to, pr);
    return false;
  }
  const Index prev = pr.next - 1;
  const auto prev_term = log_.term_at(prev);
  if (!prev_term) return false;  // a store error; step() stops the core
  auto entries = log_.slice(pr.next, log_.last_index() + 1, cfg_.max_append_entries,
                            cfg_.max_append_bytes);
  if (entries.empty() && pr.state == ProgressState::replicate) return false;  // caught up
  if (!log_.error().ok()) return false;
  AppendEntries m;
  m.term = term_, m.from = self_, m.to = to;
  m.prev = {*prev_term, prev};
  m.commit = commit_;
  if (pr.state == ProgressState::replicate) {
    pr.next = entries.back().index + 1;  // optimistic: pipeline the next batch at once
    pr.inflight.push_back({entries.back().index, now_});
  } else {
    pr.probe_sent = true;
    pr.sent_at = now_;
  }
  m.entries = std::move(entries);
  send(std::move(m));
  return true;
}

void Core::send_appends(const NodeId& to, Progress& pr) {
  while (send_append(to, pr) && pr.state == ProgressState::replicate) {
  }
}

void Core::broadcast_appends() {
  for (auto& [id, pr] : progress_) send_appends(id, pr);
}

void Core::broadcast_heartbeats() {
  for (auto& [id, pr] : progress_) {
    Heartbeat h;
    h.term = term_, h.from = self_, h.to = id;
    h.commit = std::min(commit_, pr.match);
    h.read_seq = read_seq_;
    send(std::move(h));
  }
}

void Core::send_snapshot_chunk(const NodeId& to, Progress& pr) {
  if (pr.snapshot_index != snapshot_.meta.index) {
    pr.snapshot_index = snapshot_.meta.index;  // compacted again meanwhile: send the newer
    pr.snapshot_offset = 0;
  }
  static const Bytes kEmpty;
  const Bytes& data = snapshot_.data ? *snapshot_.data : kEmpty;
  const uint64_t offset = std::min<uint64_t>(pr.snapshot_offset, data.size());
  const uint64_t len = std::min<uint64_t>(cfg_.snapshot_chunk_bytes, data.size() - offset);
  InstallSnapshot m;
  m.term = term_, m.from = self_, m.to = to;
  m.meta = snapshot_.meta;
  m.offset = offset;
  m.total_bytes = data.size();
  m.chunk.assign(data.begin() + static_cast<ptrdiff_t>(offset),
                 data.begin() + static_cast<ptrdiff_t>(offset + len));
  m.done = offset + len == data.size();
  pr.sent_at = now_;
  send(std::move(m));
}

void Core::on_append_response(const AppendEntriesResponse& m) {
  if (role_ != Role::leader) return;
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;

  if (m.success) {
    if (m.match > log_.last_index()) return;  // claims entries we never sent
    pr.free_inflight_upto(m.match);
    const bool advanced = pr.update_match(m.match);
    if (pr.state == ProgressState::probe) {
      pr.become_replicate();  // found where the logs agree: stream from there
    } else if (pr.state == ProgressState::snapshot && pr.match >= pr.snapshot_index) {
      pr.become_probe();
    }
    if (advanced) {
      if (maybe_commit()) check_reads();
      if (role_ != Role::leader) return;  // stepped down: removed from the group
      if (m.from == transfer_target_ && pr.match == log_.last_index()) {
        TimeoutNow t;
        t.term = term_, t.from = self_, t.to = m.from;
        send(std::move(t));
      }
    }
    send_appends(m.from, pr);
    return;
  }

  // Rejected. Ignore answers to appends we have already moved past.
  if (pr.state == ProgressState::replicate) {
    if (m.rejected <= pr.match) return;
    pr.become_probe();
  } else if (pr.state == ProgressState::probe) {
    if (m.rejected != pr.next - 1) return;
    pr.probe_sent = false;
  } else {
    return;
  }
  // Skip, in our log, every index above the follower's hint whose term is newer than the
  // hint's: none of them can match.
  Index k = std::min(m.hint_index, log_.last_index());
  while (k > pr.match) {
    const auto t = log_.term_at(k);
    if (!t || *t <= m.hint_term) break;
    --k;
  }
  pr.next = std::max(pr.match + 1, std::min(k + 1, m.rejected));
  send_append(m.from, pr);
}

void Core::on_heartbeat_response(const HeartbeatResponse& m) {
  if (role_ != Role::leader) return;
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.read_ack = std::max(pr.read_ack, m.read_seq);
  check_reads();
  if (pr.match < log_.last_index()) {
    if (pr.state == ProgressState::probe) pr.probe_sent = false;  // the probe may be lost
    send_appends(m.from, pr);
  }
}

void Core::on_snapshot_response(const InstallSnapshotResponse& m) {
  if (role_ != Role::leader) return;
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (m.installed) {
    if (m.snapshot_index <= log_.last_index()) pr.update_match(m.snapshot_index);
    if (pr.state == ProgressState::snapshot) {
      pr.become_probe();
      if (maybe_commit()) check_reads();
      if (role_ != Role::leader) return;
      send_appends(m.from, pr);
    }
    return;
  }
  if (pr.state != ProgressState::snapshot || m.snapshot_index != pr.snapshot_index) return;
  pr.snapshot_offset = m.next_offset;
  send_snapshot_chunk(m.from, pr);
}

// Quiet only when there is nothing left to do: no client work for quiesce_after, every
// entry durable, committed and held by every member, nothing in flight.
bool Core::can_quiesce() const {
  if (cfg_.quiesce_after == Duration::zero() || now_ < quiesce_deadline_) return false;
  if (!transfer_target_.empty() || !pending_reads_.empty()) return false;
  const Index last = log_.last_index();
  if (commit_ != last || log_.unstable_offset() <= last) return false;
  for (const auto& [id, pr] : progress_) {
    if (pr.state != ProgressState::replicate || pr.match != last || !pr.inflight.empty()) {
      return false;
    }
  }
  return true;
}

void Core::leader_tick() {
  if (now_ >= heartbeat_deadline_ && can_quiesce()) {
    for (const auto& [id, pr] : progress_) {
      Heartbeat h;
      h.term = term_, h.from = self_, h.to = id;
      h.commit = commit_;
      h.read_seq = read_seq_;
      h.quiesce = true;
      send(std::move(h));
    }
    spdlog::debug("raft {}: quiet in term {} at index {}", self_, term_, commit_);
    quiesced_ = true;
    heartbeat_deadline_ = kTimeNever;
    quorum_deadline_ = kTimeNever;
    return;
  }
  if (now_ >= heartbeat_deadline_) {
    heartbeat_deadline_ = now_ + cfg_.heartbeat_interval;
    broadcast_heartbeats();
    // Retransmission: an append or chunk that got no answer in time is presumed lost.
    for (auto& [id, pr] : progress_) {
      switch (pr.state) {
        case ProgressState::replicate:
          if (!pr.inflight.empty() &&
              pr.inflight.front().sent_at + cfg_.replication_timeout <= now_) {
            pr.become_probe();
            send_append(id, pr);
          }
          break;
        case ProgressState::probe:
          if (pr.probe_sent && pr.sent_at + cfg_.replication_timeout <= now_) {
            pr.probe_sent = false;
            send_append(id, pr);
          }
          break;
        case ProgressState::snapshot:
          if (pr.sent_at + cfg_.replication_timeout <= now_) send_snapshot_chunk(id, pr);
          break;
      }
    }
  }
  if (cfg_.check_quorum && now_ >= quorum_deadline_) {
    size_t active = config_.is_voter(self_) ? 1 : 0;
    for (auto& [id, pr] : progress_) {
      if (config_.is_voter(id) && pr.recent_active) ++active;
      pr.recent_active = false;
    }
    if (active < quorum()) {
      spdlog::debug("raft {}: stepping down in term {}: no quorum heard from", self_, term_);
      become_follower(term_, "");
      return;
    }
    leader_contact_ = now_;
    quorum_deadline_ = now_ + cfg_.election_timeout_min;
  }
  if (!transfer_target_.empty() && now_ >= transfer_deadline_) {
    spdlog::debug("raft {}: transfer to {} timed out", self_, transfer_target_);
    transfer_target_.clear();
  }
}

bool Core::maybe_commit() {
  std::vector<Index> matches;
  for (const NodeId& v : config_.voters) {
    if (v == self_) {
      matches.push_back(log_.persisted_index());  // our own vote counts once it is durable
    } else if (auto it = progress_.find(v); it != progress_.end()) {
      matches.push_back(it->second.match);
    }
  }
  if (matches.size() < quorum()) return false;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const Index n = matches[quorum() - 1];
  // Only an entry of our own term commits by counting replicas (§5.4.2).
  if (n <= commit_ || !log_.matches(n, term_)) return false;
  commit_ = n;
  if (!config_.is_voter(self_) && config_index_ <= commit_) {
    // We committed our own removal (or demotion): hand over by stepping down (§4.2.2).
    spdlog::debug("raft {}: no longer a voter; stepping down", self_);
    become_follower(term_, "");
  }
  return true;
}

void Core::check_reads() {
  if (role_ != Role::leader || commit_ < term_start_index_) return;  // not committed in term
  while (!pending_reads_.empty()) {
    const PendingRead& r = pending_reads_.front();
    size_t acks = config_.is_voter(self_) ? 1 : 0;
    for (const auto& [id, pr] : progress_) {
      if (config_.is_voter(id) && pr.read_ack >= r.seq) ++acks;
    }
    // Reads are confirmed in order: a later one needs acks of a later sequence number.
    if (acks < quorum()) break;
    out_->reads_ready.push_back({r.id, std::max(r.index, term_start_index_)});
    pending_reads_.pop_front();
  }
}

void Core::fail_reads(const Status& why) {
  for (const PendingRead& r : pending_reads_) out_->reads_failed.push_back({r.id, why});
  pending_reads_.clear();
}

Status Core::propose(EntryType type, Bytes data) {
  if (role_ != Role::leader) return not_leader(leader_);
  if (!transfer_target_.empty()) {
    return Status::unavailable(fmt::format("leadership is moving to '{}'", transfer_target_));
  }
  Entry e;
  e.term = term_;
  e.index = log_.last_index() + 1;
  e.type = type;
  e.data = std::move(data);
  out_->proposed = LogPosition{term_, e.index};
  append_to_log({std::move(e)});
  broadcast_appends();
  return Status::ok_status();
}

Status Core::change_membership(const ConfigChange& c) {
  if (role_ != Role::leader) return not_leader(leader_);
  if (commit_ < term_start_index_) {
    // Until an entry of this term commits, an older leader's change may still be pending.
    return Status::unavailable("the new leader has not committed an entry of its term yet");
  }
  if (config_index_ > commit_) {
    return Status::unavailable(
        fmt::format("membership change at index {} is not committed yet", config_index_));
  }
  if (c.node.empty()) return Status::invalid_argument("membership change names no node");
  switch (c.type) {
    case ConfigChangeType::add_voter:
      if (config_.is_voter(c.node)) return Status::already_exists(c.node + " is a voter");
      break;
    case ConfigChangeType::add_learner:
      if (config_.is_learner(c.node)) return Status::already_exists(c.node + " is a learner");
      if (c.node == self_) {
        return Status::invalid_argument("the leader cannot demote itself; transfer first");
      }
      if (config_.is_voter(c.node) && config_.voters.size() == 1) {
        return Status::invalid_argument("cannot demote the last voter");
      }
      break;
    case ConfigChangeType::remove:
      if (!config_.contains(c.node)) return Status::not_found(c.node + " is not a member");
      if (config_.is_voter(c.node) && config_.voters.size() == 1) {
        return Status::invalid_argument("cannot remove the last voter");
      }
      break;
  }
  return propose(EntryType::config_change, codec::encode_config_change(c));
}

Status Core::transfer_leadership(const NodeId& target) {
  if (role_ != Role::leader) return not_leader(leader_);
  if (target == self_) return Status::ok_status();
  if (!config_.is_voter(target)) {
    return Status::invalid_argument(fmt::format("'{}' is not a voter", target));
  }
  transfer_target_ = target;
  transfer_deadline_ = now_ + cfg_.election_timeout_min;
  Progress& pr = progress_.at(target);
  if (pr.match == log_.last_index()) {
    TimeoutNow t;
    t.term = term_, t.from = self_, t.to = target;
    send(std::move(t));
  } else {
    // Resend from its match index now rather than wait for a retransmission timer.
    if (pr.state != ProgressState::snapshot) pr.become_probe();
    send_appends(target, pr);  // TimeoutNow follows once it has caught up
  }
  return Status::ok_status();
}

Status Core::take_snapshot(const SnapshotTaken& s) {
  if (s.index <= log_.snapshot().index) {
    return Status::failed_precondition(fmt::format(
        "snapshot at {} is not newer than the one at {}", s.index, log_.snapshot().index));
  }
  if (s.index > applied_) {
    return Status::failed_precondition(
        fmt::format("snapshot at {} is past the applied index {}", s.index, applied_));
  }
  if (s.index >= log_.unstable_offset()) {
    return Status::failed_precondition(
        fmt::format("snapshot at {} covers entries not yet durable", s.index));
  }
  const auto term = log_.term_at(s.index);
  if (!term) return Status::internal(fmt::format("no term for entry {}", s.index));
  SnapshotWrite w{{s.index, *term, config_at(s.index)}, std::make_shared<const Bytes>(s.data)};
  log_.compact(w);
  base_config_ = w.meta.config;
  std::erase_if(log_configs_, [&](const auto& c) { return c.first <= s.index; });
  recompute_config();
  snapshot_ = std::move(w);
  return Status::ok_status();
}

}  // namespace shoal::raft
