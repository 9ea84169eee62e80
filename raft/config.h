// raft/config.h
//
// Config: the tuning knobs of one Raft core. The defaults suit a LAN with disks that sync
// in a few milliseconds; local() is for tests and the simulator, where time is virtual.
//
// Contract:
//  - validate() says which field is out of range; Core refuses an invalid Config.
//  - heartbeat_interval must be well below election_timeout_min (we require <= 1/2; 1/10 is
//    typical), or followers call elections while the leader is alive.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "base/status.h"
#include "base/time.h"

namespace shoal::raft {

using namespace std::chrono_literals;

struct Config {
  // A follower that hears nothing from a leader for a random time in
  // [election_timeout_min, election_timeout_max) campaigns. A wider range makes split
  // votes rarer; a higher minimum makes failover slower.
  Duration election_timeout_min = 1000ms;
  Duration election_timeout_max = 2000ms;
  // The leader sends a heartbeat to every follower this often.
  Duration heartbeat_interval = 100ms;
  // A pipelined append that got no answer within this time is presumed lost: the follower
  // goes back to probing from its match index. Too low resends needlessly on slow links.
  Duration replication_timeout = 500ms;

  // Batching: one AppendEntries carries at most this many entries and bytes of entry data
  // (always at least one entry, so one huge entry still gets through).
  size_t max_append_entries = 256;
  size_t max_append_bytes = 1 << 20;
  // Flow control: appends in flight per follower before the leader waits for acks.
  size_t max_inflight_appends = 64;
  // Committed entries handed to the state machine per step, in bytes (at least one entry).
  size_t max_apply_bytes = 4 << 20;

  // The leader steps down when it has not heard from a quorum within election_timeout_min,
  // and followers that heard from a leader within that time ignore vote requests (so a
  // node that rejoins after a partition cannot depose a healthy leader).
  bool check_quorum = true;
  // Candidates first ask whether they could win (without raising terms), so an isolated
  // node does not inflate its term and disrupt the cluster when it comes back.
  bool pre_vote = true;

  // Quiescence (0: off). A leader whose group saw no proposal, read or membership change
  // for this long, with every member caught up, sends one last heartbeat marked `quiesce`
  // and stops heartbeating; its followers stop their election timers. Anything the group
  // does wakes it. While quiet, only the shell's failure detector can notice a dead leader:
  // turn this on only in a shell that steps PeerDown{node} into every group when it
  // believes `node` is down (the agent does, from gossip).
  Duration quiesce_after = Duration::zero();

  // InstallSnapshot chunk size, and the largest snapshot a follower will buffer.
  size_t snapshot_chunk_bytes = 1 << 20;
  size_t max_snapshot_bytes = size_t{1} << 32;

  // For tests and the simulator: short, virtual-time friendly intervals.
  static Config local() {
    Config c;
    c.election_timeout_min = 150ms;
    c.election_timeout_max = 300ms;
    c.heartbeat_interval = 30ms;
    c.replication_timeout = 90ms;
    return c;
  }

  Status validate() const {
    if (election_timeout_min <= Duration::zero())
      return Status::invalid_argument("election_timeout_min must be positive");
    if (election_timeout_max <= election_timeout_min)
      return Status::invalid_argument("election_timeout_max must exceed election_timeout_min");
    if (heartbeat_interval <= Duration::zero() || heartbeat_interval * 2 > election_timeout_min)
      return Status::invalid_argument(
          "heartbeat_interval must be positive and at most half of election_timeout_min");
    if (quiesce_after < Duration::zero())
      return Status::invalid_argument("quiesce_after must not be negative");
    if (replication_timeout <= Duration::zero())
      return Status::invalid_argument("replication_timeout must be positive");
    if (max_append_entries == 0) return Status::invalid_argument("max_append_entries is 0");
    if (max_append_bytes == 0) return Status::invalid_argument("max_append_bytes is 0");
    if (max_inflight_appends == 0) return Status::invalid_argument("max_inflight_appends is 0");
    if (max_apply_bytes == 0) return Status::invalid_argument("max_apply_bytes is 0");
    if (snapshot_chunk_bytes == 0) return Status::invalid_argument("snapshot_chunk_bytes is 0");
    return Status::ok_status();
  }
};

}  // namespace shoal::raft
