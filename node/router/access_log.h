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
// AccessLog is one IO thread's buffer: add() appends a request's line (by hand, not through
// a format string: formatting was a tenth of the router's own CPU per request); lines
// collect until kFlushBytes, or until flush(),
// which the thread's timer calls every second and Router::stop() calls last, so a line
// reaches the file within about a second. A failed write is logged (once, until writes
// work again) and its lines are dropped: the access log never delays or fails a request.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
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

// One request as its line shows it. Text fields are written with whitespace and control
// characters as '_' and at most kFieldMax bytes (a log line is no place for a 64 KiB URL);
// an empty one as "-".
struct AccessRecord {
  static constexpr size_t kFieldMax = 512;

  std::string_view app;
  std::string_view instance;
  std::string_view method;
  std::string_view path;
  int status = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  double seconds = 0;
  std::string_view request_id;
  std::string_view client;
  std::string_view host;
};

class AccessLog {
 public:
  static constexpr size_t kFlushBytes = 64 * 1024;

  explicit AccessLog(std::shared_ptr<AccessLogFile> file) : file_(std::move(file)) {}
  ~AccessLog() { flush(); }
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool on() const { return file_ != nullptr; }

  // One line: "TIME app=A instance=I method=M path=P status=S bytes_in=N bytes_out=N
  // ms=T.t request_id=R client=C host=H". REQUIRES: on().
  void add(const AccessRecord& r);

  void flush();

 private:
  void stamp();  // appends "2026-12-07T00:06:45.181Z "
  void field(std::string_view key, std::string_view text);
  void field(std::string_view key, uint64_t n);

  std::shared_ptr<AccessLogFile> file_;
  std::string buffer_;
  std::time_t stamped_second_ = -1;
  char second_text_[32] = {};  // "2026-12-07T00:06:45" for stamped_second_
};

}  // namespace shoal::node::router
