// raft/leveldb_log_store.h
//
// LevelDbLogStore: the durable LogStore. One LevelDB database (LevelDb) holds the logs of
// many Raft groups; each group's keys start with its 64-bit group id, so the host can batch
// one fsync across groups (LevelDb::sync) and delete a group with one range of keys.
// Key layout and record format: docs/raft.md, "Storage format".
//
// Contract:
//  - Every value carries a CRC-32C over key and payload. A value that fails it, a record that
//    does not decode, an entry stored under the wrong index, or a hole in the log is reported
//    as Status::corruption — at open (the whole log is verified) or when read — and is never
//    returned as data.
//  - write() is one leveldb::WriteBatch, so its parts land together or not at all;
//    sync = true makes it (and everything before it) durable. leveldb::Status never leaves
//    this file: it becomes shoal::Status here.
//  - The store caches first/last index, hard state and snapshot metadata; nothing else may
//    write the group's keys while it is open. Not thread-safe (one owner per group); the
//    LevelDb handle itself may be shared by stores used from one strand.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "raft/log_store.h"

namespace leveldb {
class DB;
class Env;
class WriteBatch;
}  // namespace leveldb

namespace shoal::raft {

using GroupId = uint64_t;

// An open LevelDB database, shared by the stores of all groups in a process.
class LevelDb {
 public:
  struct Options {
    std::string path;
    leveldb::Env* env = nullptr;  // null: the real filesystem. Tests pass NewMemEnv(...).
    bool create_if_missing = true;
    size_t write_buffer_bytes = 4 << 20;
    // Told how long each synced write took, in seconds (the fsync latency the host waits
    // on), on the writing thread. For metrics; may be empty.
    std::function<void(double seconds)> on_synced_write;
  };
  static Result<std::shared_ptr<LevelDb>> open(const Options& options);
  ~LevelDb();
  LevelDb(const LevelDb&) = delete;
  LevelDb& operator=(const LevelDb&) = delete;

  // Makes every write so far durable, whichever group made it.
  Status sync();
  // Writes a batch that stores (and the host) staged into; `sync` makes it and everything
  // before it durable. This is the host's one write per loop turn.
  Status write(leveldb::WriteBatch& batch, bool sync);
  // For tools and tests (e.g. to corrupt a record on purpose); bypasses all checks.
  leveldb::DB* raw() { return db_.get(); }

 private:
  LevelDb(std::unique_ptr<leveldb::DB> db, std::function<void(double)> on_synced_write);
  Status synced_write(leveldb::WriteBatch& batch, const char* what);
  std::unique_ptr<leveldb::DB> db_;
  std::function<void(double)> on_synced_write_;
};

class LevelDbLogStore final : public LogStore {
 public:
  // Opens (or creates, if it has no keys yet) the log of `group`, verifying every record.
  static Result<std::unique_ptr<LevelDbLogStore>> open(std::shared_ptr<LevelDb> db,
                                                       GroupId group);
  // Deletes every key of `group`. The group's store must not be open.
  static Status destroy(LevelDb& db, GroupId group);

  Index first_index() const override { return meta_.index + 1; }
  Index last_index() const override { return last_index_; }
  Result<Term> term_at(Index index) const override;
  Result<std::vector<Entry>> entries(Index lo, Index hi, size_t max_bytes) const override;

  Result<HardState> hard_state() const override { return hard_state_; }
  Result<SnapshotMeta> snapshot_meta() const override { return meta_; }
  Result<Bytes> snapshot_data() const override;

  Status write(const LogWrite& batch, bool sync) override;
  Status sync() override { return db_->sync(); }

  // For the host's batched write: adds `batch` to `wb` and updates this store's bookkeeping
  // as if it were written. The caller must LevelDb::write(wb) before the core is told the
  // entries are persisted (the core never reads unpersisted entries back from the store),
  // and must treat a failure of that write as fatal for every store staged into it.
  Status stage(const LogWrite& batch, leveldb::WriteBatch& wb);
  // Adds the deletion of every key of this group (staged ones included) to `wb`.
  Status stage_destroy(leveldb::WriteBatch& wb) const;

  // Keys, exposed for tests and tools.
  static std::string entry_key(GroupId group, Index index);
  static std::string hard_state_key(GroupId group);
  static std::string snapshot_meta_key(GroupId group);
  static std::string snapshot_data_key(GroupId group);

 private:
  LevelDbLogStore(std::shared_ptr<LevelDb> db, GroupId group) : db_(std::move(db)), group_(group) {}
  Status load();
  Result<Entry> read_entry(Index index) const;

  std::shared_ptr<LevelDb> db_;
  GroupId group_;
  SnapshotMeta meta_;
  HardState hard_state_;
  Index last_index_ = 0;
  mutable std::pair<Index, Term> last_term_cache_{0, 0};  // term of the last entry looked up
};

}  // namespace shoal::raft
