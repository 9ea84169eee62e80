// node/router/access_log.cc
#include "node/router/access_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace shoal::node::router {

namespace {

int open_for_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

}  // namespace

Result<std::shared_ptr<AccessLogFile>> AccessLogFile::open(std::string path,
                                                           uint64_t max_bytes) {
  const int fd = open_for_append(path);
  if (fd < 0) {
    return Status::io_error("router access log " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  const uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return std::shared_ptr<AccessLogFile>(new AccessLogFile(std::move(path), fd, size, max_bytes));
}

AccessLogFile::AccessLogFile(std::string path, int fd, uint64_t size, uint64_t max_bytes)
    : path_(std::move(path)), max_bytes_(max_bytes), fd_(fd), size_(size) {}

AccessLogFile::~AccessLogFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AccessLogFile::append(std::string_view lines) {
  if (lines.empty()) return;
  std::lock_guard lock(mu_);
  if (size_ > 0 && size_ + lines.size() > max_bytes_) rotate();
  if (fd_ < 0) {  // rotation could not reopen the file: try again now
    fd_ = open_for_append(path_);
    if (fd_ < 0) {
      if (!failing_) {
        spdlog::warn("router-access-log-failed path={} error=\"{}\" lost_bytes={}", path_,
                     std::strerror(errno), lines.size());
      }
      failing_ = true;
      return;
    }
    size_ = 0;
  }
  while (!lines.empty()) {
    const ssize_t n = ::write(fd_, lines.data(), lines.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!failing_) {
        spdlog::warn("router-access-log-failed path={} error=\"{}\" lost_bytes={}", path_,
                     n < 0 ? std::strerror(errno) : "nothing written", lines.size());
      }
      failing_ = true;
      return;
    }
    size_ += static_cast<uint64_t>(n);
    lines.remove_prefix(static_cast<size_t>(n));
  }
  if (failing_) spdlog::info("router-access-log-writing path={}", path_);
  failing_ = false;
}

void AccessLogFile::rotate() {
  const std::string old = path_ + ".1";
  if (::rename(path_.c_str(), old.c_str()) != 0) {
    // Keep appending to the one file rather than lose lines; say so once.
    if (!rotate_failing_) {
      spdlog::warn("router-access-log-rotate-failed path={} error=\"{}\"", path_,
                   std::strerror(errno));
    }
    rotate_failing_ = true;
    return;
  }
  rotate_failing_ = false;
  ::close(fd_);
  fd_ = open_for_append(path_);  // append() retries, and says so, when this failed
  size_ = 0;
  spdlog::info("router-access-log-rotated path={} previous={}", path_, old);
}

void AccessLog::flush() {
  if (buffer_.empty() || !file_) return;
  file_->append(buffer_);
  buffer_.clear();
}

void AccessLog::stamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  const std::time_t second = static_cast<std::time_t>(ms / 1000);
  if (second != stamped_second_) {
    std::tm tm{};
    ::gmtime_r(&second, &tm);
    std::strftime(second_text_, sizeof second_text_, "%Y-%m-%dT%H:%M:%S", &tm);
    stamped_second_ = second;
  }
  const int milli = static_cast<int>(ms % 1000);
  buffer_ += second_text_;
  const char stamp_tail[] = {'.', static_cast<char>('0' + milli / 100),
                             static_cast<char>('0' + milli / 10 % 10),
                             static_cast<char>('0' + milli % 10), 'Z'};
  buffer_.append(stamp_tail, sizeof stamp_tail);
}

void AccessLog::field(std::string_view key, std::string_view text) {
  buffer_ += ' ';
  buffer_ += key;
  buffer_ += '=';
  if (text.empty()) {
    buffer_ += '-';
    return;
  }
  const size_t at = buffer_.size();
  buffer_ += text.substr(0, AccessRecord::kFieldMax);
  for (size_t i = at; i < buffer_.size(); ++i) {
    const auto c = static_cast<unsigned char>(buffer_[i]);
    if (c <= ' ' || c == 0x7f) buffer_[i] = '_';
  }
}

void AccessLog::field(std::string_view key, uint64_t n) {
  buffer_ += ' ';
  buffer_ += key;
  buffer_ += '=';
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  buffer_.append(digits, end);
}

void AccessLog::add(const AccessRecord& r) {
  stamp();
  field("app", r.app);
  field("instance", r.instance);
  field("method", r.method);
  field("path", r.path);
  field("status", static_cast<uint64_t>(r.status < 0 ? 0 : r.status));
  field("bytes_in", r.bytes_in);
  field("bytes_out", r.bytes_out);
  // Milliseconds with one decimal.
  const auto tenths = static_cast<uint64_t>(std::llround(std::max(r.seconds, 0.0) * 10000));
  field("ms", tenths / 10);
  buffer_ += '.';
  buffer_ += static_cast<char>('0' + tenths % 10);
  field("request_id", r.request_id);
  field("client", r.client);
  field("host", r.host);
  buffer_ += '\n';
  if (buffer_.size() >= kFlushBytes) flush();
}

}  // namespace shoal::node::router
