#include "node/snapshot_file.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shoal::node {

namespace {

constexpr size_t kMinCompactSize = 128 * 1024;
constexpr size_t kBytesPerMember = 256;

Status errno_status(const std::string& what) {
  return Status::io_error(what + ": " + std::strerror(errno));
}

Status write_all(int fd, const Bytes& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write");
    }
    done += static_cast<size_t>(n);
  }
  return Status();
}

Result<Bytes> read_all(int fd) {
  Bytes out;
  uint8_t buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("read");
    }
    if (n == 0) return out;
    out.insert(out.end(), buf, buf + n);
  }
}

}  // namespace

Result<std::unique_ptr<SnapshotFile>> SnapshotFile::open(const std::filesystem::path& path,
                                                         bool rejoin_after_leave) {
  const std::string name = path.string();
  const int fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("cannot open snapshot " + name);
  auto data = read_all(fd);
  if (!data.ok()) {
    ::close(fd);
    return data.status().with_context("cannot read snapshot " + name);
  }
  auto replay = gossip::replay_snapshot(*data, rejoin_after_leave);
  if (!replay.ok()) {
    ::close(fd);
    return Status::corruption("snapshot " + name + " is corrupt: " + replay.status().message() +
                              "; nothing in it was used. Move it away to start without it "
                              "(the node then needs --join to find its cluster)");
  }
  size_t size = data->size();
  if (replay->torn_tail) {
    spdlog::warn("snapshot-torn-tail file={} valid_bytes={} dropped_bytes={}", name,
                 replay->valid_bytes, size - replay->valid_bytes);
    if (::ftruncate(fd, static_cast<off_t>(replay->valid_bytes)) != 0) {
      Status s = errno_status("cannot cut the torn tail of snapshot " + name);
      ::close(fd);
      return s;
    }
    size = replay->valid_bytes;
  }
  std::unique_ptr<SnapshotFile> f(
      new SnapshotFile(path, fd, rejoin_after_leave, replay->state, size));
  if (size == 0) {
    if (Status s = write_all(fd, Bytes(gossip::kSnapshotMagic.begin(),
                                               gossip::kSnapshotMagic.end()));
        !s.ok()) {
      return s.with_context("cannot start snapshot " + name);
    }
    f->size_ = gossip::kSnapshotMagic.size();
  }
  spdlog::info("snapshot-open file={} peers={} clock={} event_clock={} query_clock={} left={}",
               name, replay->state.alive.size(), replay->state.clock, replay->state.event_clock,
               replay->state.query_clock, replay->state.left);
  return f;
}

SnapshotFile::SnapshotFile(std::filesystem::path path, int fd, bool rejoin_after_leave,
                           gossip::SnapshotState state, size_t size)
    : path_(std::move(path)),
      fd_(fd),
      rejoin_after_leave_(rejoin_after_leave),
      recovered_(state),
      state_(std::move(state)),
      size_(size) {}

SnapshotFile::~SnapshotFile() {
  if (fd_ >= 0) {
    (void)sync();
    ::close(fd_);
  }
}

void SnapshotFile::append(const gossip::SnapshotRecord& r) {
  state_.apply(r, rejoin_after_leave_);
  const Bytes rec = gossip::encode_snapshot_record(r);
  if (Status s = write_all(fd_, rec); !s.ok()) {
    spdlog::error("snapshot-write-failed file={} error=\"{}\"", path_.string(), s.to_string());
  } else {
    size_ += rec.size();
  }
  const size_t threshold = std::max(kMinCompactSize, state_.alive.size() * kBytesPerMember);
  if (size_ > threshold) {
    if (Status s = compact(); !s.ok()) {
      spdlog::error("snapshot-compact-failed file={} error=\"{}\"", path_.string(), s.to_string());
    }
  }
}

void SnapshotFile::member_alive(const std::string& name, const std::string& addr) {
  if (leaving_) return;
  auto it = state_.alive.find(name);
  if (it != state_.alive.end() && it->second == addr) return;
  append({gossip::SnapshotRecordType::alive, name, addr, 0});
}

void SnapshotFile::member_gone(const std::string& name) {
  if (leaving_ || !state_.alive.count(name)) return;
  append({gossip::SnapshotRecordType::not_alive, name, "", 0});
}

void SnapshotFile::record_member_clock(gossip::LamportTime t) {
  if (t > state_.clock) append({gossip::SnapshotRecordType::clock, "", "", t});
}
void SnapshotFile::record_event_clock(gossip::LamportTime t) {
  if (t > state_.event_clock) append({gossip::SnapshotRecordType::event_clock, "", "", t});
}
void SnapshotFile::record_query_clock(gossip::LamportTime t) {
  if (t > state_.query_clock) append({gossip::SnapshotRecordType::query_clock, "", "", t});
}

void SnapshotFile::leave() {
  append({gossip::SnapshotRecordType::leave, "", "", 0});
  leaving_ = true;  // members leaving around us now must not undo the leave on replay
  if (Status s = sync(); !s.ok()) {
    spdlog::error("snapshot-sync-failed file={} error=\"{}\"", path_.string(), s.to_string());
  }
}

Status SnapshotFile::sync() {
  if (::fdatasync(fd_) != 0) return errno_status("fdatasync " + path_.string());
  return Status();
}

Status SnapshotFile::compact() {
  const std::filesystem::path tmp = path_.string() + ".compact";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("open " + tmp.string());
  const Bytes data = state_.compacted();
  Status s = write_all(fd, data);
  if (s.ok() && ::fsync(fd) != 0) s = errno_status("fsync " + tmp.string());
  ::close(fd);
  if (!s.ok()) return s;
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return errno_status("rename " + tmp.string());
  const int dir = ::open(path_.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
  const int nfd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (nfd < 0) return errno_status("reopen " + path_.string());
  ::close(fd_);
  fd_ = nfd;
  size_ = data.size();
  spdlog::info("snapshot-compacted file={} bytes={} peers={}", path_.string(), size_,
               state_.alive.size());
  return Status();
}

}  // namespace shoal::node
