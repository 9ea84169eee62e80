// node/snapshot_file.h
//
// SnapshotFile: the agent's durable Serf snapshot, DATA_DIR/serf.snapshot (format and
// rules in gossip/snapshot.h and docs/snapshot.md). open() replays it; the agent then
// appends what changes: members that join (name, address) or go, the Lamport clocks, and
// its own graceful leave.
//
// Contract:
//  - open() refuses a corrupt file: the error names the file and the offset, and says how
//    to start over. A torn last record (death inside a write) is cut off with a warning.
//  - Each record goes to the file with one write(2) on an O_APPEND descriptor, so it
//    survives kill -9 as soon as the call returns; leave() and close() also fsync.
//  - Past a size threshold (max(128 KiB, 256 B per known member)) the file is rewritten
//    from the current state (temp file, fsync, rename) so it stays small.
//  - A failed write is logged and retried by the next compaction; it never stops gossip.
//  - Not thread-safe: the agent's io thread owns it.
#pragma once

#include <filesystem>
#include <memory>

#include "base/status.h"
#include "gossip/snapshot.h"

namespace shoal::node {

class SnapshotFile : public gossip::SnapshotClocks {
 public:
  static Result<std::unique_ptr<SnapshotFile>> open(const std::filesystem::path& path,
                                                    bool rejoin_after_leave);
  ~SnapshotFile() override;
  SnapshotFile(const SnapshotFile&) = delete;
  SnapshotFile& operator=(const SnapshotFile&) = delete;

  // What the file held at open (peers to rejoin, clocks to start past).
  const gossip::SnapshotState& recovered() const { return recovered_; }
  const std::filesystem::path& path() const { return path_; }

  void member_alive(const std::string& name, const std::string& addr);
  void member_gone(const std::string& name);
  void record_member_clock(gossip::LamportTime t) override;
  void record_event_clock(gossip::LamportTime t) override;
  void record_query_clock(gossip::LamportTime t) override;
  // Our graceful leave: forgets the peers (unless rejoin_after_leave) and syncs.
  void leave();
  Status sync();

 private:
  SnapshotFile(std::filesystem::path path, int fd, bool rejoin_after_leave,
               gossip::SnapshotState state, size_t size);
  void append(const gossip::SnapshotRecord& r);
  Status compact();

  std::filesystem::path path_;
  int fd_;
  bool rejoin_after_leave_;
  gossip::SnapshotState recovered_;
  gossip::SnapshotState state_;  // what the file says now
  size_t size_;
  bool leaving_ = false;
};

}  // namespace shoal::node
