// raft/progress.h
//
// Progress: what a leader knows about one follower's log, and the flow control that decides
// when it may send the follower more.
//
//  - probe: we don't know where the follower's log diverges. One append at a time, until an
//    answer (or replication_timeout) arrives; rejections move `next` back using the hint.
//  - replicate: the follower is in step. Appends are pipelined optimistically: `next` moves
//    past what was sent, up to max_inflight_appends unacknowledged messages.
//  - snapshot: the entries the follower needs are compacted away; one InstallSnapshot chunk
//    is in flight at a time, then the follower is probed again.
//
// Invariant: match < next. Owned by the leader's Core; no locking.
#pragma once

#include <deque>

#include "base/time.h"
#include "raft/types.h"

namespace shoal::raft {

enum class ProgressState : uint8_t { probe, replicate, snapshot };

const char* progress_state_name(ProgressState s);

struct Progress {
  Index match = 0;
  Index next = 1;
  ProgressState state = ProgressState::probe;

  bool probe_sent = false;  // probe: an append is out, wait for its answer
  struct Inflight {
    Index last;  // last index the append carried
    TimePoint sent_at;
  };
  std::deque<Inflight> inflight;  // replicate: unacknowledged appends, oldest first

  Index snapshot_index = 0;  // snapshot: which snapshot, and the next byte to send
  uint64_t snapshot_offset = 0;
  TimePoint sent_at{};  // last probe or snapshot chunk

  bool recent_active = false;  // heard from since the last check-quorum round
  uint64_t read_ack = 0;       // highest read_seq the follower echoed

  bool paused(size_t max_inflight) const {
    switch (state) {
      case ProgressState::probe: return probe_sent;
      case ProgressState::replicate: return inflight.size() >= max_inflight;
      case ProgressState::snapshot: return true;
    }
    return true;
  }

  // Returns whether `index` raised the match index.
  bool update_match(Index index) {
    if (index <= match) return false;
    match = index;
    if (next <= match) next = match + 1;
    return true;
  }

  void free_inflight_upto(Index index) {
    while (!inflight.empty() && inflight.front().last <= index) inflight.pop_front();
  }

  void become_probe() {
    state = ProgressState::probe;
    next = match + 1;
    probe_sent = false;
    inflight.clear();
  }
  void become_replicate() {
    state = ProgressState::replicate;
    next = match + 1;
    probe_sent = false;
    inflight.clear();
  }
  void become_snapshot(Index index) {
    state = ProgressState::snapshot;
    snapshot_index = index;
    snapshot_offset = 0;
    probe_sent = false;
    inflight.clear();
  }
};

}  // namespace shoal::raft
