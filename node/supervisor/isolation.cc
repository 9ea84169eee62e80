#include "node/supervisor/isolation.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "node/supervisor/assignment.h"
#include "node/unique_fd.h"

namespace shoal::node::supervisor {
namespace fs = std::filesystem;
namespace {

Status errno_status(std::string_view what, const fs::path& p, int err) {
  return Status::io_error(std::string(what) + " " + p.string() + ": " + std::strerror(err));
}

using Fd = UniqueFd;

}  // namespace

int app_uid(uint64_t group) {
  const uint64_t seq = group >= kAppGroupBase ? group - kAppGroupBase : group;
  return kAppUidBase + static_cast<int>(seq % kAppUidRange);
}

Status make_dir(const fs::path& path, mode_t mode, int uid, int gid) {
  // The mode given here is cut by the umask; the fchmod below sets the real one.
  if (::mkdir(path.c_str(), kPrivateDirMode) != 0 && errno != EEXIST) {
    return errno_status("cannot create", path, errno);
  }
  // O_NOFOLLOW: an app that swaps a directory of its own for a symlink must not get the
  // chown / chmod below applied to what the link points at.
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ELOOP || errno == ENOTDIR) {
      return Status::failed_precondition(path.string() + " is a symlink or not a directory");
    }
    return errno_status("cannot open", path, errno);
  }
  // Owner first: a chown may clear mode bits, so the chmod comes after it.
  if ((uid >= 0 || gid >= 0) &&
      ::fchown(fd.get(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
    return errno_status("cannot chown", path, errno);
  }
  if (::fchmod(fd.get(), mode) != 0) return errno_status("cannot chmod", path, errno);
  return {};
}

Result<std::vector<std::string>> seal_data_dir(const fs::path& dir,
                                               const std::set<std::string>& open) {
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0) return errno_status("cannot open", dir, errno);
  // fdopendir takes over a descriptor of its own, so the Fd above keeps its one.
  const int list_fd = ::dup(dfd.get());
  DIR* d = list_fd >= 0 ? ::fdopendir(list_fd) : nullptr;
  if (d == nullptr) {
    if (list_fd >= 0) ::close(list_fd);
    return errno_status("cannot list", dir, errno);
  }
  std::vector<std::string> sealed;
  Status failed;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || open.count(name)) continue;
    struct stat st {};
    if (::fstatat(dfd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
    if (S_ISLNK(st.st_mode) || (st.st_mode & 077) == 0) continue;
    // Only root writes in the data dir, so the entry stat'ed is the entry changed.
    if (::fchmodat(dfd.get(), name.c_str(), st.st_mode & 07700, 0) != 0) {
      if (failed.ok()) failed = errno_status("cannot chmod", dir / name, errno);
      continue;
    }
    sealed.push_back(name);
  }
  ::closedir(d);
  if (!failed.ok()) return failed;
  return sealed;
}

namespace {

constexpr int kMaxRemoveDepth = 128;

// Empties the directory open as `dir` (which it closes); false if something stayed.
bool remove_children(int dir, int depth) {
  DIR* d = ::fdopendir(dir);
  if (d == nullptr) {
    ::close(dir);
    return false;
  }
  bool all = true;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  for (const auto& name : names) {
    if (::unlinkat(dir, name.c_str(), 0) == 0) continue;  // a file or a symlink: itself
    if (errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) {
      all = false;
      continue;
    }
    const int sub = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
      // Swapped for a symlink or a file since: that is removed, not followed.
      all = ::unlinkat(dir, name.c_str(), 0) == 0 && all;
      continue;
    }
    const bool emptied = depth < kMaxRemoveDepth ? remove_children(sub, depth + 1)
                                                 : (::close(sub), false);
    all = emptied && ::unlinkat(dir, name.c_str(), AT_REMOVEDIR) == 0 && all;
  }
  ::closedir(d);
  return all;
}

}  // namespace

Status remove_tree(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    if ((errno == ELOOP || errno == ENOTDIR) && ::unlink(path.c_str()) == 0) return {};
    return errno_status("cannot open", path, errno);
  }
  if (!remove_children(fd, 0)) return Status::io_error("cannot remove all of " + path.string());
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return errno_status("cannot remove", path, errno);
  return {};
}


const std::vector<std::string>& platform_env_names() {
  static const std::vector<std::string> names = {
      "PORT", "HOME", "TMPDIR", "SHOAL_APP", "SHOAL_RELEASE", "SHOAL_INSTANCE",
      "SHOAL_PROCESS_TYPE"};
  return names;
}

std::map<std::string, std::string> instance_environment(
    const InstanceIdentity& who, const std::map<std::string, std::string>& app_env) {
  std::map<std::string, std::string> env;
  env["PATH"] = kDefaultPath;
  for (const auto& [name, value] : app_env) env[name] = value;
  env["PORT"] = std::to_string(who.port);
  env["HOME"] = who.home.string();
  env["TMPDIR"] = (who.home / "tmp").string();
  env["SHOAL_APP"] = who.app;
  env["SHOAL_RELEASE"] = std::to_string(who.release);
  env["SHOAL_INSTANCE"] = who.instance;
  env["SHOAL_PROCESS_TYPE"] = who.type;
  return env;
}

}  // namespace shoal::node::supervisor
