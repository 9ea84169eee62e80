#include "node/artifacts/artifact_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <spdlog/spdlog.h>

#include "base/check.h"
#include "node/http_client.h"
#include "node/secure/node_keys.h"
#include "node/unique_fd.h"

namespace shoal::node {

namespace fs = std::filesystem;

namespace {

constexpr size_t kBlock = 1 << 20;
constexpr const char* kPutPrefix = "put-";

std::string errno_text(int err) { return std::strerror(err); }

// Sets a file's mtime to now (gc's grace counts from it). Best effort: a blob whose time
// cannot be set is at worst collected sooner, and then fetched again from a peer.
void touch(const std::filesystem::path& p) { (void)::utimensat(AT_FDCWD, p.c_str(), nullptr, 0); }

using Fd = UniqueFd;

std::string to_hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

// SHA-256 through OpenSSL's EVP, which uses the CPU's SHA extensions where it has them:
// several times libsodium's portable code, and every byte fetched or uploaded is hashed.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    SHOAL_CHECK(ctx_ != nullptr, "out of memory for a digest context");
    reset();
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void reset() { SHOAL_CHECK(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1, "sha256 init"); }
  void update(const void* p, size_t n) { SHOAL_CHECK(EVP_DigestUpdate(ctx_, p, n) == 1, "sha256 update"); }
  std::string hex() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    SHOAL_CHECK(EVP_DigestFinal_ex(ctx_, out, &len) == 1, "sha256 final");
    return to_hex(out, len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

Status write_all(int fd, const char* p, size_t n, uint64_t offset, const fs::path& what) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Status::io_error("write '" + what.string() + "': " + errno_text(errno));
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return {};
}

// Feeds the first `n` bytes of `fd` to `hash` (the part of a download already on disk).
Status hash_prefix(int fd, uint64_t n, Sha256& hash, const fs::path& what) {
  std::vector<char> buf(kBlock);
  uint64_t at = 0;
  while (at < n) {
    const ssize_t r = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), n - at),
                              static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Status::io_error("read '" + what.string() + "': " + errno_text(errno));
    hash.update(buf.data(), static_cast<size_t>(r));
    at += static_cast<uint64_t>(r);
  }
  return {};
}

Status fsync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return Status::io_error("fsync '" + dir.string() + "': " + errno_text(errno));
  }
  return {};
}

// "HOST:PORT" or "[V6]:PORT".
bool split_host_port(const std::string& addr, std::string& host, int& port) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string p = addr.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  return !host.empty() && ec == std::errc() && ptr == p.data() + p.size() && port > 0 &&
         port < 65536;
}

uint64_t parse_u64(std::string_view s, bool& ok) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  ok = !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
  return v;
}

}  // namespace

bool is_valid_digest(std::string_view d) {
  return d.size() == 64 && std::all_of(d.begin(), d.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Status check_digest(std::string_view d) {
  if (is_valid_digest(d)) return {};
  std::string shown(d.substr(0, 80));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return Status::invalid_argument("'" + shown + "' is not an artifact digest (64 lowercase hex)");
}

Result<std::string> sha256_file(const fs::path& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::not_found("no file '" + file.string() + "'");
    return Status::io_error("open '" + file.string() + "': " + errno_text(errno));
  }
  Sha256 hash;
  std::vector<char> buf(kBlock);
  for (;;) {
    const ssize_t r = ::read(fd.get(), buf.data(), buf.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::io_error("read '" + file.string() + "': " + errno_text(errno));
    if (r == 0) break;
    hash.update(buf.data(), static_cast<size_t>(r));
  }
  return hash.hex();
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 hash;
  hash.update(bytes.data(), bytes.size());
  return hash.hex();
}

Result<std::unique_ptr<ArtifactStore>> ArtifactStore::open(const fs::path& dir,
                                                           ArtifactStoreOptions options) {
  std::error_code ec;
  for (const fs::path& p : {dir, dir / "blobs", dir / "tmp"}) {
    fs::create_directories(p, ec);
    if (ec) return Status::io_error("cannot create '" + p.string() + "': " + ec.message());
  }
  // A put that died half-way has nothing to resume; a fetch's .part does.
  for (fs::directory_iterator it(dir / "tmp", ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind(kPutPrefix, 0) == 0) {
      std::error_code rm;
      fs::remove(it->path(), rm);
    }
  }
  return std::unique_ptr<ArtifactStore>(new ArtifactStore(dir, options));
}

fs::path ArtifactStore::path(std::string_view digest) const {
  if (!is_valid_digest(digest)) return {};
  return dir_ / "blobs" / std::string(digest);
}

fs::path ArtifactStore::part_path(std::string_view digest) const {
  if (!is_valid_digest(digest)) return {};
  return dir_ / "tmp" / (std::string(digest) + ".part");
}

bool ArtifactStore::has(std::string_view digest) const {
  if (!is_valid_digest(digest)) return false;
  struct stat st;
  return ::stat(path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<uint64_t> ArtifactStore::size(std::string_view digest) const {
  SHOAL_RETURN_IF_ERROR(check_digest(digest));
  struct stat st;
  if (::stat(path(digest).c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::not_found("no artifact " + std::string(digest) + " here");
    return Status::io_error("stat artifact " + std::string(digest) + ": " + errno_text(errno));
  }
  return static_cast<uint64_t>(st.st_size);
}

std::vector<std::string> ArtifactStore::list() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir_ / "blobs", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (is_valid_digest(name)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status ArtifactStore::publish(const fs::path& tmp, const std::string& digest) {
  // Its time is when it entered the store: gc() spares young blobs (a deploy in flight).
  touch(tmp);
  // Read-only: a blob is immutable, and a stray writer gets EACCES instead of corrupting it.
  if (::chmod(tmp.c_str(), 0444) != 0) {
    return Status::io_error("chmod '" + tmp.string() + "': " + errno_text(errno));
  }
  // Renaming over an existing blob is harmless: the same name means the same bytes.
  if (::rename(tmp.c_str(), path(digest).c_str()) != 0) {
    return Status::io_error("rename '" + tmp.string() + "' into the store: " + errno_text(errno));
  }
  return fsync_dir(dir_ / "blobs");
}

Result<std::string> ArtifactStore::put_file(const fs::path& src, bool move) {
  if (move) {
    auto digest = sha256_file(src);
    if (!digest.ok()) return digest.status();
    std::error_code ec;
    if (has(*digest)) {
      fs::remove(src, ec);
      touch(path(*digest));
      return digest;
    }
    Fd fd(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
      return Status::io_error("fsync '" + src.string() + "': " + errno_text(errno));
    }
    const fs::path tmp = dir_ / "tmp" / (kPutPrefix + *digest);
    if (::rename(src.c_str(), tmp.c_str()) == 0) {
      SHOAL_RETURN_IF_ERROR(publish(tmp, *digest));
      return digest;
    }
    if (errno != EXDEV) {
      return Status::io_error("rename '" + src.string() + "': " + errno_text(errno));
    }
    // Another filesystem: copy, then drop the source.
    auto copied = put_file(src, false);
    if (copied.ok()) fs::remove(src, ec);
    return copied;
  }

  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    if (errno == ENOENT) return Status::not_found("no file '" + src.string() + "'");
    return Status::io_error("open '" + src.string() + "': " + errno_text(errno));
  }
  std::string tmpl = (dir_ / "tmp" / (std::string(kPutPrefix) + "XXXXXX")).string();
  Fd out(::mkstemp(tmpl.data()));
  if (out.get() < 0) return Status::io_error("create '" + tmpl + "': " + errno_text(errno));
  const fs::path tmp = tmpl;
  auto fail = [&](Status s) -> Result<std::string> {
    std::error_code ec;
    fs::remove(tmp, ec);
    return s;
  };
  Sha256 hash;
  std::vector<char> buf(kBlock);
  uint64_t at = 0;
  for (;;) {
    const ssize_t r = ::read(in.get(), buf.data(), buf.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail(Status::io_error("read '" + src.string() + "': " + errno_text(errno)));
    if (r == 0) break;
    hash.update(buf.data(), static_cast<size_t>(r));
    if (Status s = write_all(out.get(), buf.data(), static_cast<size_t>(r), at, tmp); !s.ok()) {
      return fail(s);
    }
    at += static_cast<uint64_t>(r);
  }
  if (::fsync(out.get()) != 0) {
    return fail(Status::io_error("fsync '" + tmpl + "': " + errno_text(errno)));
  }
  const std::string digest = hash.hex();
  if (Status s = publish(tmp, digest); !s.ok()) return fail(s);
  return digest;
}

Result<std::string> ArtifactStore::put_bytes(std::string_view bytes) {
  const std::string digest = sha256_hex(bytes);
  if (has(digest)) {
    touch(path(digest));
    return digest;
  }
  std::string tmpl = (dir_ / "tmp" / (std::string(kPutPrefix) + "XXXXXX")).string();
  Fd out(::mkstemp(tmpl.data()));
  if (out.get() < 0) return Status::io_error("create '" + tmpl + "': " + errno_text(errno));
  Status s = write_all(out.get(), bytes.data(), bytes.size(), 0, tmpl);
  if (s.ok() && ::fsync(out.get()) != 0) {
    s = Status::io_error("fsync '" + tmpl + "': " + errno_text(errno));
  }
  if (s.ok()) s = publish(tmpl, digest);
  if (!s.ok()) {
    std::error_code ec;
    fs::remove(tmpl, ec);
    return s;
  }
  return digest;
}

Result<GcStats> ArtifactStore::gc(const std::set<std::string>& keep, Duration min_age) {
  for (const std::string& d : keep) SHOAL_RETURN_IF_ERROR(check_digest(d));
  std::set<std::string> busy;
  {
    std::lock_guard lock(mu_);
    for (const auto& [d, m] : in_flight_) busy.insert(d);
  }
  // Younger than this (by mtime) stays: a deploy stores its upload before its release is
  // committed, and a fetch or put refreshes the time of what it writes or finds.
  const auto cutoff = fs::file_time_type::clock::now() - min_age;
  auto young = [&](const fs::path& p) {
    std::error_code ec;
    const auto t = fs::last_write_time(p, ec);
    return ec || t > cutoff;  // unreadable time: keep it
  };
  Status first_error;
  GcStats stats;
  auto remove = [&](const fs::path& p) {
    std::error_code ec;
    fs::remove(p, ec);
    if (ec && first_error.ok()) {
      first_error = Status::io_error("cannot remove '" + p.string() + "': " + ec.message());
    }
    return !ec;
  };
  for (const std::string& d : list()) {
    const fs::path p = path(d);
    if (keep.count(d) || busy.count(d) || young(p)) {
      ++stats.kept;
      continue;
    }
    std::error_code ec;
    const uint64_t bytes = fs::file_size(p, ec);
    if (remove(p)) {
      ++stats.removed;
      stats.bytes += ec ? 0 : bytes;
    }
  }
  std::error_code ec;
  for (fs::directory_iterator it(dir_ / "tmp", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::string d = name.substr(0, name.find('.'));
    if (!is_valid_digest(d) || keep.count(d) || busy.count(d) || young(it->path())) continue;
    std::error_code size_ec;
    const uint64_t bytes = fs::file_size(it->path(), size_ec);
    if (remove(it->path())) stats.bytes += size_ec ? 0 : bytes;
  }
  if (!first_error.ok()) return first_error;
  return stats;
}

Status ArtifactStore::fetch(const std::string& digest, const std::vector<std::string>& peers,
                            FetchProgress progress) {
  SHOAL_RETURN_IF_ERROR(check_digest(digest));
  if (has(digest)) {
    touch(path(digest));  // about to be used: not collected within the grace
    return {};
  }
  std::shared_ptr<std::mutex> gate;
  {
    std::lock_guard lock(mu_);
    auto& slot = in_flight_[digest];
    if (!slot) slot = std::make_shared<std::mutex>();
    gate = slot;
  }
  Status s;
  {
    std::lock_guard one_at_a_time(*gate);
    // Whoever held the gate before may have fetched it.
    s = has(digest) ? Status() : fetch_locked(digest, peers, progress);
  }
  {
    std::lock_guard lock(mu_);
    auto it = in_flight_.find(digest);
    if (it != in_flight_.end() && it->second == gate && gate.use_count() == 2) {
      in_flight_.erase(it);
    }
  }
  return s;
}

Status ArtifactStore::fetch_locked(const std::string& digest, const std::vector<std::string>& peers,
                                   const FetchProgress& progress) {
  // Another process on the same directory: its flock serializes us behind it.
  const fs::path lock_path = dir_ / "tmp" / (digest + ".lock");
  Fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (lock.get() < 0 || ::flock(lock.get(), LOCK_EX) != 0) {
    return Status::io_error("lock '" + lock_path.string() + "': " + errno_text(errno));
  }
  if (has(digest)) return {};
  if (peers.empty()) {
    return Status::unavailable("artifact " + digest + " is not here and no peer holds it");
  }
  std::string failures;
  for (const std::string& peer : peers) {
    const TimePoint start = steady_now();
    Duration sync_time{};
    Status s = fetch_from(digest, peer, progress, sync_time);
    if (s.ok()) {
      std::error_code ec;
      fs::remove(lock_path, ec);
      const auto ms = to_millis(steady_now() - start);
      auto bytes = size(digest);
      spdlog::info("artifact-fetched digest={} peer={} bytes={} ms={} sync_ms={}",
                   digest.substr(0, 12), peer, bytes.ok() ? *bytes : 0, ms, to_millis(sync_time));
      return {};
    }
    spdlog::warn("artifact-fetch-failed digest={} peer={} error=\"{}\"", digest.substr(0, 12), peer,
                 s.to_string());
    failures += (failures.empty() ? "" : "; ") + peer + ": " + s.message();
  }
  return Status::unavailable("cannot fetch artifact " + digest + " from " +
                             std::to_string(peers.size()) + " peer(s): " + failures);
}

Status ArtifactStore::fetch_from(const std::string& digest, const std::string& peer,
                                 const FetchProgress& progress, Duration& sync_time) {
  std::string host;
  int port = 0;
  if (!split_host_port(peer, host, port)) {
    return Status::invalid_argument("'" + peer + "' is not a HOST:PORT address");
  }
  const fs::path part = part_path(digest);
  Fd fd(::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Status::io_error("open '" + part.string() + "': " + errno_text(errno));
  auto drop_part = [&] {
    if (::ftruncate(fd.get(), 0) != 0) {
      std::error_code ec;
      fs::remove(part, ec);
    }
  };

  for (int attempt = 0; attempt < 2; ++attempt) {
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return Status::io_error("stat '" + part.string() + "'");
    uint64_t have = static_cast<uint64_t>(st.st_size);
    Sha256 hash;
    SHOAL_RETURN_IF_ERROR(hash_prefix(fd.get(), have, hash, part));

    HttpExchange ex;
    ex.method = "GET";
    ex.target = "/v1/internal/artifacts/" + digest;
    ex.timeout = options_.fetch_idle_timeout;
    ex.keys = secure::node_keyring();
    if (have > 0) ex.headers.emplace("Range", "bytes=" + std::to_string(have) + "-");
    uint64_t total = 0;
    Status body_error;
    ex.on_headers = [&](const HttpResponse& r) {
      if (r.status == 206) {
        // "bytes START-END/TOTAL"
        const std::string cr = r.header("Content-Range");
        const size_t sp = cr.find(' '), dash = cr.find('-'), slash = cr.find('/');
        bool ok1 = false, ok2 = false;
        const uint64_t first = sp == std::string::npos || dash == std::string::npos
                                   ? 0
                                   : parse_u64(std::string_view(cr).substr(sp + 1, dash - sp - 1), ok1);
        total = slash == std::string::npos ? 0 : parse_u64(std::string_view(cr).substr(slash + 1), ok2);
        if (cr.rfind("bytes ", 0) != 0 || !ok1 || !ok2 || first != have) {
          body_error = Status::corruption("answered Range " + std::to_string(have) +
                                          "- with Content-Range '" + cr + "'");
          return false;
        }
      } else if (r.status == 200) {
        // The whole blob (no Range asked, or the peer ignores it): start over.
        if (have > 0) {
          if (::ftruncate(fd.get(), 0) != 0) {
            body_error = Status::io_error("truncate '" + part.string() + "'");
            return false;
          }
          have = 0;
          hash.reset();
        }
        bool ok = false;
        total = parse_u64(r.header("Content-Length"), ok);
        if (!ok) total = 0;
      } else {
        return false;
      }
      if (total > options_.max_blob_bytes) {
        body_error = Status::invalid_argument("offers " + std::to_string(total) +
                                              " bytes, past the limit of " +
                                              std::to_string(options_.max_blob_bytes));
        return false;
      }
      if (progress) progress(have, total);
      return true;
    };
    ex.on_body = [&](std::string_view piece) {
      const uint64_t limit = total ? total : options_.max_blob_bytes;
      if (piece.size() > limit - have) {
        body_error = Status::corruption("sent more than " + std::to_string(limit) + " bytes");
        return false;
      }
      if (Status s = write_all(fd.get(), piece.data(), piece.size(), have, part); !s.ok()) {
        body_error = s;
        return false;
      }
      hash.update(piece.data(), piece.size());
      have += piece.size();
      if (progress) progress(have, total);
      return true;
    };

    auto res = http_request(host, port, ex);
    if (!res.ok()) return res.status();  // the bytes that came are kept for a resume
    if (!body_error.ok()) {
      if (body_error.is(Status::Code::corruption)) drop_part();
      return body_error;
    }
    if (res->status == 416 && attempt == 0) {
      drop_part();  // our .part is no prefix of what the peer has: start over, once
      continue;
    }
    if (res->status == 404) return Status::not_found("does not hold it");
    if (res->status != 200 && res->status != 206) {
      return Status::unavailable("answered HTTP " + std::to_string(res->status));
    }
    if (total != 0 && have < total) {
      return Status::unavailable("the download stopped after " + std::to_string(have) + " of " +
                                 std::to_string(total) + " bytes (kept for a resume)");
    }
    const std::string got = hash.hex();
    if (got != digest) {
      drop_part();
      return Status::corruption("sent " + std::to_string(have) + " bytes that hash to " + got +
                                ", not to the digest asked for");
    }
    const TimePoint sync_start = steady_now();
    if (::fsync(fd.get()) != 0) return Status::io_error("fsync '" + part.string() + "'");
    Status published = publish(part, digest);
    sync_time = steady_now() - sync_start;
    return published;
  }
  return Status::unavailable("answered 416 twice");
}

}  // namespace shoal::node
