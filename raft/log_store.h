// raft/log_store.h
//
// LogStore: where one Raft group's log, hard state and latest snapshot live. The core never
// calls it to write; the shell turns each Actions::persist (a LogWrite) into one write() and
// makes it durable with sync() before sending the messages that depend on it. The core
// reads the store (through raft::LogView) for entries it no longer holds in memory.
//
// Contract:
//  - Indexes: the log holds entries [first_index(), last_index()]; the snapshot covers
//    everything up to first_index() - 1 = snapshot_meta().index. An empty log has
//    last_index() == first_index() - 1. term_at() answers for [first_index() - 1, last_index()]
//    (the snapshot's term at its index) and returns Status::not_found elsewhere.
//  - Ranges are half-open: entries(lo, hi) returns [lo, hi), stopping early (but never before
//    the first entry) once `max_bytes` of entry data are reached. Returned entries are copies
//    owned by the caller.
//  - write() applies its parts atomically and in this order: snapshot, truncation, entries,
//    hard state. Entries must start at last_index() + 1 after the truncation.
//  - Durability is explicit: after write() returns, reads see the data, but only sync()
//    (or a write with `sync = true`) guarantees it survives a crash. A sync covers every
//    earlier write, including other groups' writes to the same database.
//  - Errors are shoal::Status: io_error for the medium, corruption for bytes that fail their
//    checksum or a log with holes, invalid_argument for a misuse (a gap). After an error the
//    store's state is unspecified; the core that owns it stops (see raft/core.h).
//  - Not thread-safe: one owner (a core's shell) at a time.
#pragma once

#include <optional>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "raft/types.h"

namespace shoal::raft {

// A snapshot to store. Storing it drops the log entries up to meta.index; entries after it
// stay if the log reaches past it, otherwise the log becomes empty.
struct SnapshotWrite {
  SnapshotMeta meta;
  std::shared_ptr<const Bytes> data;  // shared: the core keeps it to send to followers
};

// One atomic batch of changes, as the core asks for them in Actions::persist.
struct LogWrite {
  std::optional<SnapshotWrite> snapshot;
  std::optional<Index> truncate_from;  // delete entries with index >= this
  std::vector<Entry> entries;          // then append these
  std::optional<HardState> hard_state;

  bool empty() const {
    return !snapshot && !truncate_from && entries.empty() && !hard_state;
  }
};

class LogStore {
 public:
  virtual ~LogStore() = default;

  virtual Index first_index() const = 0;
  virtual Index last_index() const = 0;
  virtual Result<Term> term_at(Index index) const = 0;
  virtual Result<std::vector<Entry>> entries(Index lo, Index hi, size_t max_bytes) const = 0;

  virtual Result<HardState> hard_state() const = 0;
  virtual Result<SnapshotMeta> snapshot_meta() const = 0;
  virtual Result<Bytes> snapshot_data() const = 0;

  virtual Status write(const LogWrite& batch, bool sync) = 0;
  virtual Status sync() = 0;

  // Conveniences over write(), for tools and tests.
  Status append(std::vector<Entry> entries, bool sync = false) {
    LogWrite w;
    w.entries = std::move(entries);
    return write(w, sync);
  }
  Status truncate_suffix(Index from, bool sync = false) {
    LogWrite w;
    w.truncate_from = from;
    return write(w, sync);
  }
  Status save_hard_state(const HardState& hs, bool sync = false) {
    LogWrite w;
    w.hard_state = hs;
    return write(w, sync);
  }
  Status save_snapshot(SnapshotMeta meta, Bytes data, bool sync = false) {
    LogWrite w;
    w.snapshot = SnapshotWrite{std::move(meta), std::make_shared<const Bytes>(std::move(data))};
    return write(w, sync);
  }
};

// Writes the first configuration of a new group into an empty store: a snapshot at index 1,
// term 0 whose state machine data is empty. Every founding member is bootstrapped with the
// same voters; a member added later starts empty and receives this snapshot from the leader.
// Returns failed_precondition if the store already holds a snapshot or entries.
Status bootstrap(LogStore& store, std::vector<NodeId> voters);

}  // namespace shoal::raft
