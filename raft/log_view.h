// raft/log_view.h
//
// LogView: the log as the core sees it — the durable part in the LogStore, plus the entries
// the core has appended or accepted but the shell has not yet reported durable ("unstable"),
// plus the latest snapshot's position. It also records, as one LogWrite, what the shell
// must write to make the store equal to this view (take_write()).
//
// Contract:
//  - Entries [first_index(), unstable_offset()) are read from the store; the rest from memory.
//    The shell must apply every LogWrite it is given, in order; after it reports
//    persisted(p), entries up to p.index are read from the store again.
//  - term_at() returns nullopt below the snapshot or past the end. A store read that fails
//    sets error() (sticky) and the call returns nullopt / an empty slice: the core checks
//    error() after each step and stops rather than act on a guess.
//  - Not thread-safe; owned by one Core.
#pragma once

#include <optional>
#include <vector>

#include "base/status.h"
#include "raft/log_store.h"

namespace shoal::raft {

class LogView {
 public:
  explicit LogView(const LogStore& store) : store_(&store) {}

  // Reads the snapshot position and the end of the durable log. Called once, at open.
  Status load();

  Index first_index() const { return snapshot_.index + 1; }
  Index last_index() const {
    return unstable_.empty() ? unstable_offset_ - 1 : unstable_.back().index;
  }
  LogPosition last() const { return {term_at(last_index()).value_or(0), last_index()}; }
  const LogPosition& snapshot() const { return snapshot_; }
  // Highest index the shell has reported durable (for a leader: its own match index).
  Index persisted_index() const { return unstable_offset_ - 1; }
  Index unstable_offset() const { return unstable_offset_; }

  std::optional<Term> term_at(Index index) const;
  bool matches(Index index, Term term) const { return term_at(index) == term; }
  // Entries in [lo, hi), at most `max_count` and (past the first) `max_bytes` of data.
  // REQUIRES: first_index() <= lo.
  std::vector<Entry> slice(Index lo, Index hi, size_t max_count, size_t max_bytes) const;

  // Appends after last_index(). REQUIRES: entries contiguous from last_index() + 1.
  void append(std::vector<Entry> entries);
  // Drops entries with index >= from. REQUIRES: from > snapshot().index.
  void truncate(Index from);
  // Compaction: the prefix up to meta.index is covered by a snapshot the state machine made.
  // REQUIRES: meta.index < unstable_offset() (only durable entries are compacted).
  void compact(const SnapshotWrite& snapshot);
  // Replaces the whole log with a snapshot received from the leader.
  void install(const SnapshotWrite& snapshot);
  // The shell made everything up to `last` durable.
  void persisted(LogPosition last);

  LogWrite take_write() { return std::exchange(write_, LogWrite{}); }
  const Status& error() const { return error_; }

 private:
  const LogStore* store_;
  LogPosition snapshot_;
  Index unstable_offset_ = 1;
  std::vector<Entry> unstable_;  // entries unstable_offset_, unstable_offset_ + 1, ...
  LogWrite write_;               // not yet handed to the shell
  mutable Status error_;
};

}  // namespace shoal::raft
