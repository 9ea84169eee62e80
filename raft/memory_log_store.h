// raft/memory_log_store.h
//
// MemoryLogStore: a LogStore in memory, for tests and the simulator. It checks the same
// preconditions as the LevelDB store and returns the same errors, so the core meets the
// same behaviour in both.
//
// Crash model: every write is kept, synced or not, unless `lose_unsynced` was set; then
// crash() throws away whatever was written since the last sync (what power loss does to an
// unsynced disk cache). Not thread-safe.
#pragma once

#include <deque>

#include "raft/log_store.h"

namespace shoal::raft {

class MemoryLogStore final : public LogStore {
 public:
  MemoryLogStore() = default;

  Index first_index() const override { return state_.meta.index + 1; }
  Index last_index() const override { return state_.meta.index + state_.log.size(); }
  Result<Term> term_at(Index index) const override;
  Result<std::vector<Entry>> entries(Index lo, Index hi, size_t max_bytes) const override;

  Result<HardState> hard_state() const override { return state_.hard_state; }
  Result<SnapshotMeta> snapshot_meta() const override { return state_.meta; }
  Result<Bytes> snapshot_data() const override;

  Status write(const LogWrite& batch, bool sync) override;
  Status sync() override;

  // Test hooks.
  void set_lose_unsynced(bool lose) { lose_unsynced_ = lose; }
  void crash();  // forget unsynced writes if lose_unsynced, else nothing
  size_t writes() const { return writes_; }

 private:
  struct State {
    SnapshotMeta meta;
    std::shared_ptr<const Bytes> data;
    std::deque<Entry> log;  // entries meta.index + 1 ...
    HardState hard_state;
  };
  State state_;
  State synced_;
  bool lose_unsynced_ = false;
  size_t writes_ = 0;
};

}  // namespace shoal::raft
