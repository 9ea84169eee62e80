#include "node/data_dir.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace shoal::node {
namespace {

constexpr size_t kNodeIdHexLen = 32;

Status errno_status(std::string_view what, const std::filesystem::path& p, int err) {
  return Status::io_error(std::string(what) + " '" + p.string() + "': " + std::strerror(err));
}

bool is_node_id(std::string_view s) {
  if (s.size() != kNodeIdHexLen) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::string> read_small_file(const std::filesystem::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open", p, errno);
  std::string out;
  char buf[256];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return errno_status("cannot read", p, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > 4096) break;  // a node-id file is tiny; more is not ours
  }
  ::close(fd);
  return out;
}

}  // namespace

Status write_file_durably(const std::filesystem::path& p, std::string_view data) {
  const std::filesystem::path tmp = p.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("cannot create", tmp, errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return errno_status("cannot write", tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return errno_status("cannot sync", tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), p.c_str()) != 0) return errno_status("cannot rename to", p, errno);
  // Make the rename itself durable.
  int dir = ::open(p.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status();
}

namespace {

Result<std::string> load_or_create_node_id(const std::filesystem::path& dir) {
  const auto p = dir / "node-id";
  std::error_code ec;
  if (std::filesystem::exists(p, ec)) {
    auto text = read_small_file(p);
    if (!text.ok()) return text.status();
    std::string id = *text;
    while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
    if (!is_node_id(id)) {
      return Status::corruption("'" + p.string() +
                                "' does not hold a node id (32 hex characters); remove it "
                                "to let the agent create a new one");
    }
    return id;
  }
  if (sodium_init() < 0) return Status::internal("libsodium failed to initialize");
  unsigned char raw[kNodeIdHexLen / 2];
  randombytes_buf(raw, sizeof raw);
  char hex[kNodeIdHexLen + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  std::string id(hex, kNodeIdHexLen);
  SHOAL_RETURN_IF_ERROR(write_file_durably(p, id + "\n"));
  return id;
}

}  // namespace

Result<std::unique_ptr<DataDir>> DataDir::open(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return Status::io_error("cannot create data dir '" + path.string() + "': " + ec.message());
  }
  if (!std::filesystem::is_directory(path, ec)) {
    return Status::invalid_argument("data dir '" + path.string() + "' is not a directory");
  }
  if (::chmod(path.c_str(), 0700) != 0) return errno_status("cannot chmod 0700", path, errno);

  const auto lock_path = path / "LOCK";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("cannot open lock file", lock_path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    auto holder = read_small_file(lock_path);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      std::string pid = holder.ok() ? *holder : std::string();
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      return Status::failed_precondition(
          "data dir '" + path.string() + "' is in use by another agent" +
          (pid.empty() ? std::string() : " (pid " + pid + ")") +
          "; stop it or pick another --data-dir");
    }
    return errno_status("cannot lock", lock_path, err);
  }
  // Record our pid for the error message above; the lock, not the pid, is what counts.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    int err = errno;
    ::close(fd);
    return errno_status("cannot write lock file", lock_path, err);
  }

  auto id = load_or_create_node_id(path);
  if (!id.ok()) {
    ::close(fd);
    return id.status();
  }
  return std::unique_ptr<DataDir>(new DataDir(path, fd, std::move(*id)));
}

DataDir::~DataDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

}  // namespace shoal::node
