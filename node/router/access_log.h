// node/router/access_log.h
//
// The router's access log: one line per request, in a file of its own (as nginx keeps
// one), not in the agent's log. At tens of thousands of requests a second, a line per
// request through the agent's spdlog sink, shared by every thread and flushed per line,
// cost a system call and a contended lock each; here a thread writes a batch at a time.
//
//   2026-12-07T00:06:45.181Z app=hello instance=web.1 method=GET path=/ status=200 ...
//
// AccessLogFile is the file, shared by the IO threads: append() writes a batch of whole
// lines with one write(2) under its mutex (so batches never interleave), and first moves
// the file to PATH.1 (replacing the previous one) when the batch would take it past
// max_bytes: the log takes at most about twice that on disk.
//
// AccessLog is one IO thread's buffer: lines collect until kFlushBytes, or until flush(),
// which the thread's timer calls every second and Router::stop() calls last, so a line
// reaches the file within about a second. A failed write is logged (once, until writes
// work again) and its lines are dropped: the access log never delays or fails a request.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"

namespace shoal::node::router {

class AccessLogFile {
 public:
  // Opens (creating, mode 0640) `path` for appending; the error names the path.
  static Result<std::shared_ptr<AccessLogFile>> open(std::string path, uint64_t max_bytes);
  ~AccessLogFile();
  AccessLogFile(const AccessLogFile&) = delete;
  AccessLogFile& operator=(const AccessLogFile&) = delete;

  void append(std::string_view lines);  // thread-safe
  const std::string& path() const { return path_; }

 private:
  AccessLogFile(std::string path, int fd, uint64_t size, uint64_t max_bytes);
  void rotate();  // REQUIRES: mu_ held

  const std::string path_;
  const uint64_t max_bytes_;
  std::mutex mu_;
  int fd_;         // guarded by mu_
  uint64_t size_;  // guarded by mu_: what the file holds
  bool failing_ = false;  // guarded by mu_: a failure was logged, a success not yet
  bool rotate_failing_ = false;  // guarded by mu_: a failed rename was logged
};

class AccessLog {
 public:
  static constexpr size_t kFlushBytes = 64 * 1024;

  explicit AccessLog(std::shared_ptr<AccessLogFile> file) : file_(std::move(file)) {}
  ~AccessLog() { flush(); }
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool on() const { return file_ != nullptr; }

  // One line: the time, a space, the formatted fields, a newline. REQUIRES: on().
  template <class... Args>
  void add(fmt::format_string<Args...> fields, Args&&... args) {
    stamp();
    fmt::format_to(std::back_inserter(buffer_), fields, std::forward<Args>(args)...);
    buffer_.push_back('\n');
    if (buffer_.size() >= kFlushBytes) flush();
  }

  void flush();

 private:
  void stamp();  // appends "2026-12-07T00:06:45.181Z "

  std::shared_ptr<AccessLogFile> file_;
  std::string buffer_;
  std::time_t stamped_second_ = -1;
  char second_text_[32] = {};  // "2026-12-07T00:06:45" for stamped_second_
};

}  // namespace shoal::node::router
