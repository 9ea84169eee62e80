// raft/host_group.h — one group inside the Host (private to host*.cc).
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "raft/host.h"

namespace shoal::raft {

struct Host::Group {
  GroupId id = 0;
  std::unique_ptr<LevelDbLogStore> store;
  std::unique_ptr<Core> core;
  std::unique_ptr<StateMachine> machine;
  Index applied = 0;         // last index the state machine holds
  Index snapshot_index = 0;  // last snapshot taken or installed
  // The snapshot policy's byte counts (HostOptions::snapshot_every): the size of the last
  // snapshot taken or restored, and the bytes of the entries applied since.
  uint64_t snapshot_bytes = 0;
  uint64_t applied_bytes = 0;
  TimePoint wake_at = kTimeNever;  // its key in timers_
  bool touched = false;
  std::vector<Actions> deferred;  // waiting for the turn's write
  std::optional<LogPosition> persisted;
  struct Proposal {
    uint64_t id;
    Term term;
  };
  std::map<Index, Proposal> proposals;
  std::vector<ReadState> reads;  // confirmed read points, waiting for the apply
  std::vector<NodeId> promoting;
  uint64_t proposed = 0;  // GroupStatus::proposals
};

}  // namespace shoal::raft
