// raft/core.cc — event dispatch, terms, roles and elections. The follower's handling of the
// leader's messages is in follower.cc, the leader's side in replication.cc.
#include "raft/core.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "raft/codec.h"

namespace shoal::raft {

const char* role_name(Role r) {
  switch (r) {
    case Role::follower: return "follower";
    case Role::pre_candidate: return "pre-candidate";
    case Role::candidate: return "candidate";
    case Role::leader: return "leader";
  }
  return "?";
}

const char* progress_state_name(ProgressState s) {
  switch (s) {
    case ProgressState::probe: return "probe";
    case ProgressState::replicate: return "replicate";
    case ProgressState::snapshot: return "snapshot";
  }
  return "?";
}

Core::Core(Config config, NodeId self, const LogStore& store, Rng rng)
    : cfg_(std::move(config)), self_(std::move(self)), log_(store), store_(&store), rng_(rng) {}

Result<std::unique_ptr<Core>> Core::open(Config config, NodeId self, const LogStore& store,
                                         Rng rng, Index applied, TimePoint now) {
  SHOAL_RETURN_IF_ERROR(config.validate());
  if (self.empty()) return Status::invalid_argument("raft node id is empty");
  std::unique_ptr<Core> core(new Core(std::move(config), std::move(self), store, rng));
  SHOAL_RETURN_IF_ERROR(core->load(applied, now));
  return core;
}

Status Core::load(Index applied, TimePoint now) {
  now_ = now;
  SHOAL_RETURN_IF_ERROR(log_.load());
  auto hs = store_->hard_state();
  if (!hs.ok()) return hs.status();
  auto meta = store_->snapshot_meta();
  if (!meta.ok()) return meta.status();
  auto data = store_->snapshot_data();
  if (!data.ok()) return data.status();
  snapshot_ = {*meta, std::make_shared<const Bytes>(std::move(*data))};
  base_config_ = meta->config;
  config_index_ = meta->index;

  // Config entries above the snapshot are in force already (they act when appended).
  constexpr size_t kBatch = 1024;
  for (Index i = log_.first_index(); i <= log_.last_index();) {
    auto batch = log_.slice(i, log_.last_index() + 1, kBatch, cfg_.max_apply_bytes);
    if (!log_.error().ok()) return log_.error();
    if (batch.empty()) return Status::corruption(fmt::format("log has no entry {}", i));
    for (const Entry& e : batch) {
      if (e.index != i) return Status::corruption(fmt::format("entry {} stored at {}", e.index, i));
      if (e.type == EntryType::config_change) {
        auto change = codec::decode_config_change(e.data);
        if (!change.ok()) return change.status().with_context(fmt::format("entry {}", i));
        const ConfigState& prev = log_configs_.empty() ? base_config_ : log_configs_.back().second;
        log_configs_.emplace_back(i, apply_config_change(prev, *change));
      }
      ++i;
    }
  }
  recompute_config();

  term_ = hs->term;
  vote_ = hs->vote;
  // Whatever the state machine applied, or the snapshot holds, was committed.
  commit_ = std::max({hs->commit, meta->index, std::min(applied, log_.last_index())});
  if (commit_ > log_.last_index()) {
    return Status::corruption(
        fmt::format("commit index {} is past the log's end {}", commit_, log_.last_index()));
  }
  applied_ = std::max(applied, meta->index);
  next_apply_ = applied_ + 1;
  seen_term_ = term_;
  seen_commit_ = commit_;
  seen_vote_ = vote_;
  reset_election_timer();
  return Status::ok_status();
}

Actions Core::step(const Event& event, TimePoint now) {
  Actions out;
  if (!stopped_.ok()) {
    out.status = stopped_;
    return out;
  }
  now_ = std::max(now_, now);
  out_ = &out;
  const HardState before = hard_state();
  if (quiesced_) wake(event);

  std::visit(
      [&](const auto& ev) {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, Tick>) {
          on_tick();
        } else if constexpr (std::is_same_v<T, MessageIn>) {
          on_message(ev.message);
        } else if constexpr (std::is_same_v<T, Propose>) {
          note_activity();
          out.status = propose(EntryType::normal, ev.data);
        } else if constexpr (std::is_same_v<T, ReadIndex>) {
          if (role_ != Role::leader) {
            out.reads_failed.push_back(
                {ev.id, Status::unavailable(fmt::format("not the leader (leader: '{}')", leader_))});
          } else {
            note_activity();
            pending_reads_.push_back({ev.id, std::max(commit_, term_start_index_), ++read_seq_});
            if (config_.voters.size() > 1) broadcast_heartbeats();
            check_reads();
          }
        } else if constexpr (std::is_same_v<T, ChangeMembership>) {
          note_activity();
          out.status = change_membership(ev.change);
        } else if constexpr (std::is_same_v<T, TransferLeadership>) {
          note_activity();
          out.status = transfer_leadership(ev.target);
        } else if constexpr (std::is_same_v<T, Campaign>) {
          if (role_ != Role::leader && config_.is_voter(self_)) campaign(cfg_.pre_vote, false);
        } else if constexpr (std::is_same_v<T, Persisted>) {
          log_.persisted(ev.last);
          if (role_ == Role::leader && maybe_commit()) check_reads();
        } else if constexpr (std::is_same_v<T, Applied>) {
          applied_ = std::max(applied_, std::min(ev.index, next_apply_ - 1));
        } else if constexpr (std::is_same_v<T, SnapshotTaken>) {
          out.status = take_snapshot(ev);
        } else if constexpr (std::is_same_v<T, PeerDown>) {
          if (role_ != Role::leader && ev.node == leader_) leader_down();
        }
      },
      event);

  emit_applies();
  if (!log_.error().ok()) {
    // A read of our own log failed: nothing computed from it can be trusted.
    stopped_ = log_.error().with_context(fmt::format("raft member {} stopped", self_));
    spdlog::error("{}", stopped_.to_string());
    Actions failed;
    failed.status = stopped_;
    out_ = nullptr;
    return failed;
  }
  out.persist = log_.take_write();
  const HardState after = hard_state();
  if (after != before) out.persist.hard_state = after;
  out.must_sync = !out.persist.entries.empty() || out.persist.snapshot ||
                  out.persist.truncate_from || after.term != before.term ||
                  after.vote != before.vote;
  out.wake_at = next_wake();
  out_ = nullptr;
  return out;
}

void Core::emit_applies() {
  if (next_apply_ > commit_) return;
  auto entries = log_.slice(next_apply_, commit_ + 1, SIZE_MAX, cfg_.max_apply_bytes);
  if (entries.empty()) return;  // a store error; step() notices
  next_apply_ = entries.back().index + 1;
  auto& apply = out_->apply;
  for (auto& e : entries) apply.push_back(std::move(e));
}

TimePoint Core::next_wake() const {
  if (next_apply_ <= commit_) return now_;  // more committed entries to hand out
  if (quiesced_) return kTimeNever;
  if (role_ == Role::leader) {
    TimePoint t = heartbeat_deadline_;
    if (cfg_.check_quorum) t = std::min(t, quorum_deadline_);
    if (!transfer_target_.empty()) t = std::min(t, transfer_deadline_);
    return t;
  }
  return config_.is_voter(self_) ? election_deadline_ : kTimeNever;
}

void Core::reset_election_timer() {
  if (leader_down_) {
    // No leader to wait for (leader_down): a split vote is retried within a heartbeat too.
    const auto spread = cfg_.heartbeat_interval.count();
    election_deadline_ = now_ + Duration(static_cast<Duration::rep>(rng_.uniform(spread)));
    return;
  }
  const auto spread = (cfg_.election_timeout_max - cfg_.election_timeout_min).count();
  election_deadline_ = now_ + cfg_.election_timeout_min +
                       Duration(static_cast<Duration::rep>(rng_.uniform(spread)));
}

// The shell believes our leader is down (its process is gone, or gossip declared it
// failed): waiting out a whole election timeout would only add to the outage. Forget the
// lease, so this member grants votes at once, and campaign after a short random delay
// (spread so that the followers who heard the same news do not split the vote). Safety is
// the voting rules', not the timers': a wrong belief costs at most one election, and a
// member that still hears from the leader refuses our pre-vote.
void Core::leader_down() {
  spdlog::debug("raft {}: leader {} reported down", self_, leader_);
  leader_contact_.reset();
  leader_down_ = true;  // until a leader is heard from again
  const TimePoint before = election_deadline_;
  reset_election_timer();
  election_deadline_ = std::min(election_deadline_, before);
}

bool Core::in_leader_lease() const {
  if (quiesced_) return cfg_.check_quorum;  // the leader is alive until the shell says not
  return cfg_.check_quorum && !leader_.empty() && leader_contact_ &&
         now_ < *leader_contact_ + cfg_.election_timeout_min;
}

// A quiet member meets an event. Timer and bookkeeping events leave it quiet; a message
// (other than the leader's repeated quiesce heartbeat) or a command wakes it, as does the
// leader's death for its followers.
void Core::wake(const Event& cause) {
  if (std::holds_alternative<Tick>(cause) || std::holds_alternative<Persisted>(cause) ||
      std::holds_alternative<Applied>(cause)) {
    return;
  }
  bool leader_gone = false;
  if (const auto* down = std::get_if<PeerDown>(&cause)) {
    if (role_ == Role::leader || down->node != leader_) return;
    leader_gone = true;
  }
  if (const auto* in = std::get_if<MessageIn>(&cause)) {
    if (const auto* hb = std::get_if<Heartbeat>(&in->message); hb && hb->quiesce) return;
    // The answers to the quiesce heartbeat itself.
    if (std::holds_alternative<HeartbeatResponse>(in->message)) return;
    // A vote request from our own leader: it restarted and lost its leadership.
    if (const auto* rv = std::get_if<RequestVote>(&in->message); rv && rv->from == leader_) {
      leader_gone = true;
    }
  }
  quiesced_ = false;
  spdlog::debug("raft {}: waking ({})", self_, leader_gone ? "leader gone" : "group has work");
  if (role_ == Role::leader) {
    // The followers took us for alive all along: the lease is fresh.
    leader_contact_ = now_;
    heartbeat_deadline_ = now_;
    quorum_deadline_ = now_ + cfg_.election_timeout_min;
    for (auto& [id, pr] : progress_) pr.recent_active = true;
    note_activity();
    return;
  }
  if (leader_gone) {
    leader_contact_.reset();
  } else {
    leader_contact_ = now_;
  }
  reset_election_timer();
}

void Core::send(Message m) {
  // Requests from a leader or pre-candidate depend on nothing we have not made durable
  // already (a leader's term and vote were synced before it could win). Everything that
  // grants, acknowledges or asks for a vote in a new term waits for the disk.
  const bool needs_persist = std::visit(
      [](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, RequestVote> || std::is_same_v<T, RequestVoteResponse>) {
          return !x.pre_vote;
        } else {
          return std::is_same_v<T, AppendEntriesResponse> ||
                 std::is_same_v<T, HeartbeatResponse> ||
                 std::is_same_v<T, InstallSnapshotResponse>;
        }
      },
      m);
  (needs_persist ? out_->send_after_persist : out_->send_now).push_back(std::move(m));
}

void Core::on_tick() {
  if (role_ == Role::leader) {
    leader_tick();
    return;
  }
  if (now_ >= election_deadline_) {
    if (config_.is_voter(self_)) {
      campaign(cfg_.pre_vote, false);
    } else {
      reset_election_timer();  // learners and strangers never campaign
    }
  }
}

void Core::on_message(const Message& m) {
  const MessageHeader& h = header(m);
  if (h.to != self_ || h.from.empty() || h.from == self_) {
    spdlog::debug("raft {}: dropped {} addressed from '{}' to '{}'", self_, message_name(m),
                  h.from, h.to);
    return;
  }
  const bool from_leader = std::holds_alternative<AppendEntries>(m) ||
                           std::holds_alternative<Heartbeat>(m) ||
                           std::holds_alternative<InstallSnapshot>(m);
  if (h.term > term_) {
    if (const auto* rv = std::get_if<RequestVote>(&m)) {
      // Leader stickiness: while we hear from a leader, a candidate with a higher term is
      // most likely a node coming back from a partition; ignore it (§4.2.3).
      if (in_leader_lease() && !rv->transfer) return;
      if (!rv->pre_vote) become_follower(h.term, "");
    } else if (const auto* rvr = std::get_if<RequestVoteResponse>(&m);
               rvr && rvr->pre_vote && rvr->granted) {
      // A granted pre-vote carries the term we would campaign in; not a newer term.
    } else {
      become_follower(h.term, from_leader ? h.from : NodeId{});
    }
  } else if (h.term < term_) {
    if (from_leader) {
      // A deposed leader (perhaps partitioned while we elected another): tell it our term.
      AppendEntriesResponse r;
      r.term = term_, r.from = self_, r.to = h.from;
      send(std::move(r));
    } else if (const auto* rv = std::get_if<RequestVote>(&m); rv && rv->pre_vote) {
      RequestVoteResponse r;
      r.term = term_, r.from = self_, r.to = h.from, r.pre_vote = true;
      send(std::move(r));
    }
    return;  // anything else from an old term is stale
  }

  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, RequestVote>) on_request_vote(x);
        else if constexpr (std::is_same_v<T, RequestVoteResponse>) on_vote_response(x);
        else if constexpr (std::is_same_v<T, AppendEntries>) on_append_entries(x);
        else if constexpr (std::is_same_v<T, AppendEntriesResponse>) on_append_response(x);
        else if constexpr (std::is_same_v<T, Heartbeat>) on_heartbeat(x);
        else if constexpr (std::is_same_v<T, HeartbeatResponse>) on_heartbeat_response(x);
        else if constexpr (std::is_same_v<T, InstallSnapshot>) on_install_snapshot(x);
        else if constexpr (std::is_same_v<T, InstallSnapshotResponse>) on_snapshot_response(x);
        else if constexpr (std::is_same_v<T, TimeoutNow>) {
          if (role_ != Role::leader && config_.is_voter(self_) && x.from == leader_) {
            campaign(/*pre_vote=*/false, /*transfer=*/true);
          }
        }
      },
      m);
}

void Core::on_request_vote(const RequestVote& m) {
  // Here m.term >= term_ (older requests were answered in on_message).
  RequestVoteResponse r;
  r.from = self_, r.to = m.from, r.pre_vote = m.pre_vote;
  const bool log_ok = m.last >= log_.last();
  bool granted = false;
  if (m.pre_vote) {
    // Would we vote in m.term? Only if it is newer than ours and no leader is alive for us.
    granted = log_ok && m.term > term_ && (m.transfer || !in_leader_lease());
  } else {
    const bool free = vote_ == m.from || (vote_.empty() && leader_.empty());
    granted = log_ok && free && m.term == term_;
    if (granted) {
      vote_ = m.from;
      reset_election_timer();  // a candidate we back deserves its chance to win
    }
  }
  r.granted = granted;
  r.term = (m.pre_vote && granted) ? m.term : term_;
  send(std::move(r));
}

void Core::on_vote_response(const RequestVoteResponse& m) {
  const bool pre = role_ == Role::pre_candidate;
  if (!(pre || role_ == Role::candidate) || m.pre_vote != pre) return;
  if (m.term != (pre ? term_ + 1 : term_)) return;  // a rejection from our term, or stale
  if (!config_.is_voter(m.from)) return;
  votes_.emplace(m.from, m.granted);
  size_t yes = 0, no = 0;
  for (const auto& [id, granted] : votes_) (granted ? yes : no)++;
  if (yes >= quorum()) {
    if (pre) {
      campaign(false, false);
    } else {
      become_leader();
    }
  } else if (no >= quorum()) {
    become_follower(term_, "");
  }
}

void Core::campaign(bool pre_vote, bool transfer) {
  votes_.clear();
  leader_.clear();
  if (pre_vote) {
    role_ = Role::pre_candidate;
  } else {
    role_ = Role::candidate;
    ++term_;
    vote_ = self_;
  }
  fail_reads(Status::unavailable("leader election in progress"));
  progress_.clear();
  transfer_target_.clear();
  reset_election_timer();
  votes_.emplace(self_, true);
  if (votes_.size() >= quorum()) {  // a single voter
    if (pre_vote) {
      campaign(false, false);
    } else {
      become_leader();
    }
    return;
  }
  const LogPosition last = log_.last();
  for (const NodeId& v : config_.voters) {
    if (v == self_) continue;
    RequestVote rv;
    rv.term = pre_vote ? term_ + 1 : term_;
    rv.from = self_, rv.to = v, rv.last = last, rv.pre_vote = pre_vote, rv.transfer = transfer;
    send(std::move(rv));
  }
}

void Core::become_follower(Term term, const NodeId& leader) {
  if (term > term_) {
    term_ = term;
    vote_.clear();
  }
  if (role_ == Role::leader) fail_reads(Status::unavailable("lost leadership"));
  role_ = Role::follower;
  quiesced_ = false;
  leader_ = leader;
  if (!leader.empty()) leader_contact_ = now_, leader_down_ = false;
  votes_.clear();
  progress_.clear();
  transfer_target_.clear();
  reset_election_timer();
}

void Core::become_leader() {
  role_ = Role::leader;
  leader_down_ = false;
  leader_ = self_;
  leader_contact_ = now_;
  votes_.clear();
  progress_.clear();
  sync_progress_with_config();
  heartbeat_deadline_ = now_ + cfg_.heartbeat_interval;
  quorum_deadline_ = now_ + cfg_.election_timeout_min;
  election_deadline_ = kTimeNever;
  note_activity();
  // A leader may only count replicas for entries of its own term (§5.4.2): the no-op
  // gives it one at once, so earlier entries commit without waiting for a client.
  Entry noop;
  noop.term = term_;
  noop.index = log_.last_index() + 1;
  noop.type = EntryType::noop;
  term_start_index_ = noop.index;
  append_to_log({std::move(noop)});
  spdlog::debug("raft {}: leader of term {} at index {}", self_, term_, term_start_index_);
  broadcast_appends();
  maybe_commit();
}

std::optional<PeerStatus> Core::peer(const NodeId& id) const {
  auto it = progress_.find(id);
  if (role_ != Role::leader || it == progress_.end()) return std::nullopt;
  const Progress& p = it->second;
  return PeerStatus{id, config_.is_voter(id), p.match, p.next, p.state, p.recent_active};
}

CoreStatus Core::status() const {
  CoreStatus s;
  s.id = self_, s.role = role_, s.term = term_, s.leader = leader_;
  s.commit = commit_, s.applied = applied_, s.last_index = log_.last_index();
  s.snapshot_index = log_.snapshot().index, s.config = config_;
  for (const auto& [id, p] : progress_) s.peers.push_back(*peer(id));
  return s;
}

void Core::check_invariants() const {
  auto fail = [&](const std::string& what) {
    throw std::logic_error(fmt::format("raft {} (term {}, {}): {}", self_, term_,
                                       role_name(role_), what));
  };
  if (term_ < seen_term_) fail(fmt::format("term went back from {}", seen_term_));
  if (commit_ < seen_commit_) fail(fmt::format("commit went back from {}", seen_commit_));
  if (term_ == seen_term_) {
    if (!seen_vote_.empty() && vote_ != seen_vote_) fail("vote changed within a term");
    if (!seen_leader_.empty() && !leader_.empty() && leader_ != seen_leader_) {
      fail(fmt::format("leader changed within a term: {} then {}", seen_leader_, leader_));
    }
  } else {
    seen_leader_.clear();
  }
  seen_term_ = term_, seen_commit_ = commit_, seen_vote_ = vote_;
  if (!leader_.empty()) seen_leader_ = leader_;

  if (!stopped_.ok()) return;
  const Index last = log_.last_index();
  if (commit_ > last) fail(fmt::format("commit {} past last index {}", commit_, last));
  if (next_apply_ > commit_ + 1) fail("applying past commit");
  if (log_.snapshot().index > commit_) fail("snapshot past commit");
  if (log_.last().term > term_) fail("log holds an entry from a future term");
  if ((role_ == Role::leader) != (leader_ == self_)) fail("leader field disagrees with role");
  if ((role_ == Role::leader || role_ == Role::candidate) && vote_ != self_) {
    fail("leader or candidate did not vote for itself");
  }
  if (role_ == Role::leader) {
    if (term_start_index_ >= log_.first_index() && !log_.matches(term_start_index_, term_)) {
      fail("no-op of this term missing");
    }
    for (const auto& id : config_.voters) {
      if (id != self_ && !progress_.count(id)) fail("no progress for voter " + id);
    }
    for (const auto& id : config_.learners) {
      if (id != self_ && !progress_.count(id)) fail("no progress for learner " + id);
    }
    for (const auto& [id, p] : progress_) {
      if (!config_.contains(id)) fail("progress for non-member " + id);
      if (p.match >= p.next) fail(fmt::format("{}: match {} >= next {}", id, p.match, p.next));
      if (p.match > last) fail(fmt::format("{}: match {} past last {}", id, p.match, last));
      if (p.inflight.size() > cfg_.max_inflight_appends) fail("too many appends in flight");
    }
  } else if (!progress_.empty()) {
    fail("follower keeps leader progress");
  }
  // Terms never decrease along the log (checked over the in-memory part, which is cheap).
  Term prev = log_.term_at(log_.unstable_offset() - 1).value_or(0);
  for (Index i = log_.unstable_offset(); i <= last; ++i) {
    const Term t = *log_.term_at(i);
    if (t < prev) fail(fmt::format("term decreases at index {}", i));
    prev = t;
  }
}

}  // namespace shoal::raft
