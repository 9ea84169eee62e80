#include "node/artifacts/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <spdlog/spdlog.h>
#include <sstream>

#include "node/unique_fd.h"

namespace shoal::node {

namespace fs = std::filesystem;

namespace {

// 2000-01-01T00:00:00Z: every packed entry gets it, so a tree packs to the same bytes
// whatever its checkout time (tools that dislike 1970 dates are left alone).
constexpr time_t kPackedMtime = 946684800;
constexpr size_t kIgnoreFileMax = 1 << 20;
constexpr size_t kCopyBlock = 256 * 1024;

std::string errno_text(int err) { return std::strerror(err); }

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using WriteHandle = std::unique_ptr<archive, ArchiveWriteFree>;
using ReadHandle = std::unique_ptr<archive, ArchiveReadFree>;
using EntryHandle = std::unique_ptr<archive_entry, EntryFree>;

using Fd = UniqueFd;

std::string archive_error(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown libarchive error";
}

std::vector<std::string_view> split_path(std::string_view p) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= p.size()) {
    const size_t j = std::min(p.find('/', i), p.size());
    if (j > i) out.push_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Whether `target`, read relative to the directory holding `link_rel`, names a path that
// stays inside the root. Lexical: pack and extract both refuse a path through a symlink,
// so no other symlink can bend it.
bool link_stays_inside(std::string_view link_rel, std::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  std::vector<std::string_view> at = split_path(link_rel);
  if (!at.empty()) at.pop_back();  // the link's own name
  for (std::string_view c : split_path(target)) {
    if (c == ".") continue;
    if (c == "..") {
      if (at.empty()) return false;
      at.pop_back();
      continue;
    }
    at.push_back(c);
  }
  return true;
}

// ---------------------------------------------------------------- packing

class Packer {
 public:
  Packer(archive* a, PackStats& stats, const IgnoreRules* rules, struct stat out_stat)
      : a_(a), stats_(stats), rules_(rules), out_stat_(out_stat) {}

  Status walk(const fs::path& abs, const std::string& rel) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(abs, ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) return Status::io_error("cannot list '" + abs.string() + "': " + ec.message());
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      const std::string child_rel = rel.empty() ? name : rel + "/" + name;
      const fs::path child = abs / name;
      struct stat st;
      if (::lstat(child.c_str(), &st) != 0) {
        return Status::io_error("cannot stat '" + child.string() + "': " + errno_text(errno));
      }
      const bool is_dir = S_ISDIR(st.st_mode);
      if (name == ".git" || (rules_ && rules_->ignored(child_rel, is_dir))) {
        ++stats_.ignored;
        continue;
      }
      if (st.st_dev == out_stat_.st_dev && st.st_ino == out_stat_.st_ino) continue;  // itself
      if (is_dir) {
        SHOAL_RETURN_IF_ERROR(write_header(child_rel, AE_IFDIR, st.st_mode, 0, nullptr));
        ++stats_.dirs;
        SHOAL_RETURN_IF_ERROR(walk(child, child_rel));
      } else if (S_ISREG(st.st_mode)) {
        SHOAL_RETURN_IF_ERROR(write_file(child, child_rel, st));
      } else if (S_ISLNK(st.st_mode)) {
        std::error_code lec;
        const std::string target = fs::read_symlink(child, lec).string();
        if (lec) return Status::io_error("cannot read link '" + child.string() + "': " + lec.message());
        if (!link_stays_inside(child_rel, target)) {
          stats_.skipped.push_back(child_rel + ": symlink to '" + target + "' leaves the directory");
          continue;
        }
        SHOAL_RETURN_IF_ERROR(write_header(child_rel, AE_IFLNK, 0777, 0, target.c_str()));
        ++stats_.symlinks;
      } else {
        stats_.skipped.push_back(child_rel + ": not a file, directory or symlink");
      }
    }
    return {};
  }

 private:
  Status write_header(const std::string& rel, unsigned type, mode_t mode, int64_t size,
                      const char* link_target) {
    EntryHandle e(archive_entry_new());
    archive_entry_set_pathname(e.get(), rel.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), mode & 0777);
    archive_entry_set_size(e.get(), size);
    archive_entry_set_mtime(e.get(), kPackedMtime, 0);
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    if (link_target) archive_entry_set_symlink(e.get(), link_target);
    if (archive_write_header(a_, e.get()) != ARCHIVE_OK) {
      return Status::io_error("cannot add '" + rel + "' to the archive: " + archive_error(a_));
    }
    return {};
  }

  Status write_file(const fs::path& abs, const std::string& rel, const struct stat& st) {
    Fd fd(::open(abs.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) {
      return Status::io_error("cannot open '" + abs.string() + "': " + errno_text(errno));
    }
    const auto size = static_cast<int64_t>(st.st_size);
    SHOAL_RETURN_IF_ERROR(write_header(rel, AE_IFREG, st.st_mode, size, nullptr));
    buf_.resize(kCopyBlock);
    int64_t done = 0;
    while (done < size) {
      const ssize_t n = ::read(fd.get(), buf_.data(), buf_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::io_error("cannot read '" + abs.string() + "': " + errno_text(errno));
      if (n == 0) break;
      const auto want = static_cast<size_t>(std::min<int64_t>(n, size - done));
      if (archive_write_data(a_, buf_.data(), want) < 0) {
        return Status::io_error("cannot write the archive: " + archive_error(a_));
      }
      done += static_cast<int64_t>(want);
    }
    if (done != size) {
      return Status::failed_precondition("'" + abs.string() + "' changed size while being packed");
    }
    ++stats_.files;
    stats_.bytes += static_cast<uint64_t>(size);
    return {};
  }

  archive* a_;
  PackStats& stats_;
  const IgnoreRules* rules_;
  struct stat out_stat_;
  std::vector<char> buf_;
};

// ---------------------------------------------------------------- extraction

class Extractor {
 public:
  Extractor(archive* a, int root_fd, const ExtractLimits& limits)
      : a_(a), root_fd_(root_fd), limits_(limits) {}

  Status run() {
    for (;;) {
      archive_entry* e = nullptr;
      const int r = archive_read_next_header(a_, &e);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) {
        return Status::corruption("not a readable tar archive" +
                                  (entries_ ? " after entry " + std::to_string(entries_) : "") +
                                  ": " + archive_error(a_));
      }
      if (++entries_ > limits_.max_entries) {
        return Status::invalid_argument("the archive has more than " +
                                        std::to_string(limits_.max_entries) + " entries");
      }
      SHOAL_RETURN_IF_ERROR(entry(e));
    }
    // Deepest first, so a read-only parent does not stop its children's chmod.
    for (auto it = dir_modes_.rbegin(); it != dir_modes_.rend(); ++it) {
      if (::fchmodat(root_fd_, it->first.c_str(), (it->second & 0777) | 0700, 0) != 0) {
        return Status::io_error("chmod '" + it->first + "': " + errno_text(errno));
      }
    }
    return {};
  }

 private:
  static Status refuse(const std::string& name, const std::string& why) {
    return Status::invalid_argument("archive entry '" + name + "' refused: " + why);
  }

  // The entry's path as components, or a refusal. Leading "./" and empty parts drop out.
  static Result<std::vector<std::string>> clean_path(const std::string& name, const char* what) {
    if (name.empty()) return refuse(name, std::string("empty ") + what);
    if (name.front() == '/') return refuse(name, std::string("absolute ") + what);
    std::vector<std::string> parts;
    for (std::string_view c : split_path(name)) {
      if (c == ".") continue;
      if (c == "..") return refuse(name, std::string("'..' in the ") + what);
      parts.emplace_back(c);
    }
    return parts;
  }

  static std::string join(const std::vector<std::string>& parts, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += (i ? "/" : "") + parts[i];
    return out;
  }

  // Opens (creating if asked) the directory made of parts[0..n), never following a symlink.
  Result<Fd> open_dir(const std::string& name, const std::vector<std::string>& parts, size_t n,
                      bool create) {
    Fd cur(::dup(root_fd_));
    for (size_t i = 0; i < n; ++i) {
      int fd = ::openat(cur.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT && create) {
        if (::mkdirat(cur.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
          return Status::io_error("mkdir '" + join(parts, i + 1) + "': " + errno_text(errno));
        }
        fd = ::openat(cur.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0) {
        if (errno == ELOOP || errno == ENOTDIR) {
          return refuse(name, "its path goes through '" + join(parts, i + 1) +
                                  "', which is not a directory (a symlink or a file)");
        }
        return Status::io_error("open '" + join(parts, i + 1) + "': " + errno_text(errno));
      }
      cur = Fd(fd);
    }
    return cur;
  }

  Status entry(archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    const std::string name = raw ? raw : "";
    auto parts_or = clean_path(name, "path");
    if (!parts_or.ok()) return parts_or.status();
    std::vector<std::string> parts = std::move(parts_or.value());
    const unsigned type = archive_entry_filetype(e);
    const char* hardlink = archive_entry_hardlink(e);
    if (parts.empty()) {
      if (type == AE_IFDIR && !hardlink) return {};  // "./": the root itself
      return refuse(name, "names the archive root");
    }
    const std::string rel = join(parts, parts.size());
    const std::string& leaf = parts.back();

    if (hardlink) {
      auto target_or = clean_path(hardlink, "hardlink target");
      if (!target_or.ok()) return refuse(name, "hardlink to '" + std::string(hardlink) + "' leaves the root");
      const auto& target = target_or.value();
      if (!files_.count(join(target, target.size()))) {
        return refuse(name, "hardlink to '" + std::string(hardlink) +
                                "', which is not a file extracted before it");
      }
      auto from = open_dir(name, target, target.size() - 1, false);
      if (!from.ok()) return from.status();
      auto to = open_dir(name, parts, parts.size() - 1, true);
      if (!to.ok()) return to.status();
      if (::linkat(from->get(), target.back().c_str(), to->get(), leaf.c_str(), 0) != 0) {
        if (errno == EEXIST) return refuse(name, "appears twice in the archive");
        return Status::io_error("link '" + rel + "': " + errno_text(errno));
      }
      return {};
    }

    switch (type) {
      case AE_IFDIR: {
        auto d = open_dir(name, parts, parts.size(), true);
        if (!d.ok()) return d.status();
        dir_modes_[rel] = archive_entry_perm(e);
        return {};
      }
      case AE_IFREG: return regular_file(e, name, parts, rel);
      case AE_IFLNK: {
        const char* t = archive_entry_symlink(e);
        const std::string target = t ? t : "";
        if (target.empty()) return refuse(name, "symlink without a target");
        if (target.front() == '/') return refuse(name, "symlink to the absolute path '" + target + "'");
        if (!link_stays_inside(rel, target)) {
          return refuse(name, "symlink to '" + target + "' leaves the archive root");
        }
        auto d = open_dir(name, parts, parts.size() - 1, true);
        if (!d.ok()) return d.status();
        if (::symlinkat(target.c_str(), d->get(), leaf.c_str()) != 0) {
          if (errno == EEXIST) return refuse(name, "appears twice in the archive");
          return Status::io_error("symlink '" + rel + "': " + errno_text(errno));
        }
        return {};
      }
      case AE_IFCHR: return refuse(name, "character device (only files, directories and links)");
      case AE_IFBLK: return refuse(name, "block device (only files, directories and links)");
      case AE_IFIFO: return refuse(name, "fifo (only files, directories and links)");
      case AE_IFSOCK: return refuse(name, "socket (only files, directories and links)");
      default: return refuse(name, "unknown entry type " + std::to_string(type));
    }
  }

  Status regular_file(archive_entry* e, const std::string& name,
                      const std::vector<std::string>& parts, const std::string& rel) {
    const int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (size < 0) return refuse(name, "negative size");
    // Checked before a byte is written: a 3 GiB entry of zeros is a few KiB compressed.
    if (static_cast<uint64_t>(size) > limits_.max_total_bytes - total_) {
      return refuse(name, "unpacking it would pass the limit of " +
                              std::to_string(limits_.max_total_bytes) + " bytes (" +
                              std::to_string(total_) + " so far, this one " +
                              std::to_string(size) + ")");
    }
    total_ += static_cast<uint64_t>(size);
    auto d = open_dir(name, parts, parts.size() - 1, true);
    if (!d.ok()) return d.status();
    Fd fd(::openat(d->get(), parts.back().c_str(),
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd.get() < 0) {
      if (errno == EEXIST) return refuse(name, "appears twice in the archive");
      return Status::io_error("create '" + rel + "': " + errno_text(errno));
    }
    for (;;) {
      const void* buf = nullptr;
      size_t len = 0;
      la_int64_t offset = 0;
      const int r = archive_read_data_block(a_, &buf, &len, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) {
        return Status::corruption("archive entry '" + name + "': " + archive_error(a_));
      }
      if (offset < 0 || static_cast<uint64_t>(offset) + len > static_cast<uint64_t>(size)) {
        return refuse(name, "data past its declared size");
      }
      const char* p = static_cast<const char*>(buf);
      while (len > 0) {
        const ssize_t w = ::pwrite(fd.get(), p, len, offset);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return Status::io_error("write '" + rel + "': " + errno_text(errno));
        p += w;
        len -= static_cast<size_t>(w);
        offset += w;
      }
    }
    // Sparse entries may end in a hole that no block covers.
    if (::ftruncate(fd.get(), size) != 0) {
      return Status::io_error("truncate '" + rel + "': " + errno_text(errno));
    }
    if (::fchmod(fd.get(), archive_entry_perm(e) & 0777) != 0) {
      return Status::io_error("chmod '" + rel + "': " + errno_text(errno));
    }
    const timespec times[2] = {{0, UTIME_OMIT}, {archive_entry_mtime(e), 0}};
    ::futimens(fd.get(), times);
    files_.insert(rel);
    return {};
  }

  archive* a_;
  int root_fd_;
  const ExtractLimits& limits_;
  uint64_t entries_ = 0;
  uint64_t total_ = 0;
  std::set<std::string> files_;               // regular files so far: hardlink targets
  std::map<std::string, mode_t> dir_modes_;  // applied at the end
};

std::string hex_prefix(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ' ';
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- ignore rules

IgnoreRules IgnoreRules::parse(std::string_view text) {
  IgnoreRules out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    Rule r;
    if (line.front() == '!') {
      r.negated = true;
      line.erase(0, 1);
    }
    if (line.rfind("**/", 0) == 0) {
      line.erase(0, 3);
    } else if (!line.empty() && line.front() == '/') {
      r.anchored = true;
      line.erase(0, 1);
    }
    if (!line.empty() && line.back() == '/') {
      r.dir_only = true;
      line.pop_back();
    }
    if (line.empty()) continue;
    if (line.find('/') != std::string::npos) r.anchored = true;
    r.pattern = std::move(line);
    out.rules_.push_back(std::move(r));
  }
  return out;
}

bool IgnoreRules::ignored(std::string_view rel, bool is_dir) const {
  const std::string path(rel);
  const size_t slash = path.rfind('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  bool out = false;
  for (const Rule& r : rules_) {
    if (r.dir_only && !is_dir) continue;
    const bool hit = r.anchored ? ::fnmatch(r.pattern.c_str(), path.c_str(), FNM_PATHNAME) == 0
                                : ::fnmatch(r.pattern.c_str(), base.c_str(), 0) == 0;
    if (hit) out = !r.negated;
  }
  return out;
}

// ---------------------------------------------------------------- public functions

Status pack_directory(const fs::path& dir, const fs::path& out_tar_gz, PackStats* stats,
                      const PackOptions& options) {
  PackStats local;
  PackStats& st = stats ? *stats : local;
  st = {};
  struct stat root;
  if (::stat(dir.c_str(), &root) != 0 || !S_ISDIR(root.st_mode)) {
    return Status::invalid_argument("'" + dir.string() + "' is not a directory");
  }
  IgnoreRules rules;
  if (options.honour_ignore_file) {
    const fs::path ignore = dir / kIgnoreFileName;
    std::error_code ec;
    if (fs::is_regular_file(ignore, ec)) {
      if (fs::file_size(ignore, ec) > kIgnoreFileMax) {
        return Status::invalid_argument("'" + ignore.string() + "' is larger than 1 MiB");
      }
      std::ifstream in(ignore, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      if (!in) return Status::io_error("cannot read '" + ignore.string() + "'");
      rules = IgnoreRules::parse(text.str());
    }
  }

  WriteHandle a(archive_write_new());
  if (archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK ||
      archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      // NULL unsets the option: no timestamp in the gzip header, for reproducible bytes.
      archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr) < ARCHIVE_WARN ||
      archive_write_set_filter_option(a.get(), "gzip", "compression-level", "6") < ARCHIVE_WARN) {
    return Status::internal("libarchive setup: " + archive_error(a.get()));
  }
  if (archive_write_open_filename(a.get(), out_tar_gz.c_str()) != ARCHIVE_OK) {
    return Status::io_error("cannot write '" + out_tar_gz.string() + "': " + archive_error(a.get()));
  }
  struct stat out_stat {};
  ::stat(out_tar_gz.c_str(), &out_stat);
  Packer packer(a.get(), st, options.honour_ignore_file ? &rules : nullptr, out_stat);
  Status s = packer.walk(dir, "");
  if (s.ok() && archive_write_close(a.get()) != ARCHIVE_OK) {
    s = Status::io_error("cannot finish '" + out_tar_gz.string() + "': " + archive_error(a.get()));
  }
  if (!s.ok()) {
    a.reset();
    std::error_code ec;
    fs::remove(out_tar_gz, ec);
    return s;
  }
  return {};
}

Status extract_archive(const fs::path& tar_gz, const fs::path& dest, const ExtractLimits& limits) {
  std::error_code ec;
  if (fs::symlink_status(dest, ec).type() != fs::file_type::not_found) {
    return Status::already_exists("'" + dest.string() + "' exists already");
  }
  fs::path parent = dest.parent_path();
  if (parent.empty()) parent = ".";
  fs::create_directories(parent, ec);
  if (ec) return Status::io_error("cannot create '" + parent.string() + "': " + ec.message());
  std::string tmpl = (parent / ("." + dest.filename().string() + ".tmp-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::io_error("cannot create a temporary directory in '" + parent.string() +
                            "': " + errno_text(errno));
  }
  const fs::path tmp = tmpl;
  auto discard = [&](Status s) {
    std::error_code rm;
    fs::remove_all(tmp, rm);
    return s;
  };

  ReadHandle a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), tar_gz.c_str(), 64 * 1024) != ARCHIVE_OK) {
    const bool missing = !fs::exists(tar_gz, ec);
    const std::string what = "'" + tar_gz.string() + "': " + archive_error(a.get());
    return discard(missing ? Status::not_found("no archive " + what)
                           : Status::corruption("cannot read the archive " + what));
  }
  Status s;
  {
    Fd root(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (root.get() < 0) return discard(Status::io_error("open '" + tmp.string() + "': " + errno_text(errno)));
    Extractor x(a.get(), root.get(), limits);
    s = x.run();
    // mkdtemp made it 0700; the release's own user (not the agent's) must read it.
    if (s.ok() && ::fchmod(root.get(), 0755) != 0) {
      s = Status::io_error("chmod '" + tmp.string() + "': " + errno_text(errno));
    }
  }
  if (!s.ok()) return discard(s);
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    const int err = errno;
    if (err == EEXIST || err == ENOTEMPTY) {
      return discard(Status::already_exists("'" + dest.string() + "' exists already"));
    }
    return discard(Status::io_error("rename to '" + dest.string() + "': " + errno_text(err)));
  }
  return {};
}

const char* artifact_kind_name(ArtifactKind kind) {
  switch (kind) {
    case ArtifactKind::tar_gz: return "tar.gz";
    case ArtifactKind::executable: return "executable";
  }
  return "unknown";
}

Result<ArtifactKind> detect_kind(const fs::path& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::not_found("no file '" + file.string() + "'");
    return Status::io_error("cannot open '" + file.string() + "': " + errno_text(errno));
  }
  std::array<unsigned char, 8> head{};
  const ssize_t n = ::read(fd.get(), head.data(), head.size());
  if (n < 0) return Status::io_error("cannot read '" + file.string() + "': " + errno_text(errno));
  const auto got = static_cast<size_t>(n);
  if (got == 0) return Status::invalid_argument("'" + file.string() + "' is empty");
  if (got >= 4 && std::memcmp(head.data(), "\x7f" "ELF", 4) == 0) return ArtifactKind::executable;
  if (got >= 2 && head[0] == '#' && head[1] == '!') return ArtifactKind::executable;
  if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
    ReadHandle a(archive_read_new());
    archive_read_support_filter_gzip(a.get());
    archive_read_support_format_tar(a.get());
    archive_entry* e = nullptr;
    if (archive_read_open_filename(a.get(), file.c_str(), 16 * 1024) == ARCHIVE_OK) {
      const int r = archive_read_next_header(a.get(), &e);
      if (r == ARCHIVE_OK || r == ARCHIVE_WARN || r == ARCHIVE_EOF) return ArtifactKind::tar_gz;
    }
    return Status::invalid_argument("'" + file.string() + "' is gzip data but not a tar archive: " +
                                    archive_error(a.get()));
  }
  return Status::invalid_argument("'" + file.string() +
                                  "' is neither a tar.gz nor an executable (ELF or #! script); "
                                  "it starts with bytes " + hex_prefix(head.data(), got));
}

}  // namespace shoal::node
