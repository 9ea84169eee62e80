// node/data_dir.h
//
// DataDir: the agent's state directory, held for the agent's lifetime.
//
// open() creates the directory (mode 0700, parents as needed), takes an exclusive flock on
// DIR/LOCK, and reads DIR/node-id, creating it with a fresh random id the first time.
//
// Contract:
//  - One agent per directory: a second open() on a held directory fails with
//    failed_precondition naming the directory and the holder's pid. The lock is an flock,
//    so it dies with the process: after `kill -9` nothing stops a restart.
//  - The node id is 32 lowercase hex characters, written once (temp file, fsync, rename)
//    and never changed; a node-id file that is not such an id is corruption.
//  - The lock is released when the DataDir is destroyed. Not thread-safe; the agent owns it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/status.h"

namespace shoal::node {

// Replaces `p` with `data` atomically and durably (temp file in the same directory, fsync,
// rename, fsync of the directory); mode 0600. io_error names the file and the errno.
Status write_file_durably(const std::filesystem::path& p, std::string_view data);

class DataDir {
 public:
  static Result<std::unique_ptr<DataDir>> open(const std::filesystem::path& path);
  ~DataDir();
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::string& node_id() const { return node_id_; }

 private:
  DataDir(std::filesystem::path path, int lock_fd, std::string node_id)
      : path_(std::move(path)), lock_fd_(lock_fd), node_id_(std::move(node_id)) {}
  std::filesystem::path path_;
  int lock_fd_ = -1;
  std::string node_id_;
};

}  // namespace shoal::node
