// raft/state_machine.h
//
// StateMachine: what a Raft group replicates into. The host applies committed entries to it
// in log order, asks it for a snapshot every so often (to compact the log), and restores it
// from a snapshot after a restart or when the leader sends one.
//
// Contract:
//  - apply() gets every committed EntryType::normal entry exactly once, in index order,
//    and returns the result handed back to the proposer (may be empty). It must be
//    deterministic: the same entries give the same state and results on every member.
//  - snapshot() captures the state as of the last applied entry; restore() replaces the
//    whole state (it may reject bytes it cannot decode: the group then stops).
//  - Called from the host's thread only.
#pragma once

#include <functional>
#include <memory>

#include "base/bytes.h"
#include "base/status.h"
#include "raft/types.h"

namespace shoal::raft {

class StateMachine {
 public:
  virtual ~StateMachine() = default;
  virtual Bytes apply(const Entry& entry) = 0;
  virtual Bytes snapshot() const = 0;
  virtual Status restore(ByteView data) = 0;
};

using GroupId = uint64_t;
using StateMachineFactory = std::function<std::unique_ptr<StateMachine>(GroupId)>;

}  // namespace shoal::raft
