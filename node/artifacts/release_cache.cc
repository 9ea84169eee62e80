#include "node/artifacts/release_cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

#include "node/script_process.h"

namespace shoal::node {

namespace fs = std::filesystem;

namespace {

// DNS label: what docs/apps.md allows as an app name; never a path.
bool is_valid_app_name(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

Status check_app(std::string_view app) {
  if (is_valid_app_name(app)) return {};
  return Status::invalid_argument("'" + std::string(app.substr(0, 80)) +
                                  "' is not an app name (a DNS label: a-z, 0-9, '-')");
}

// The last `max` bytes of `text`, from a line start when one is near.
std::string tail_of(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  std::string t = text.substr(text.size() - max);
  const size_t nl = t.find('\n');
  if (nl != std::string::npos && nl + 1 < t.size()) t.erase(0, nl + 1);
  return t;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

}  // namespace

bool is_valid_package_name(std::string_view name) {
  const size_t colon = name.find(':');
  const std::string_view pkg = name.substr(0, colon);
  if (pkg.size() < 2 || pkg.size() > 128) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(pkg.front())) return false;
  for (char c : pkg) {
    if (!lower_or_digit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  if (colon == std::string_view::npos) return true;
  const std::string_view arch = name.substr(colon + 1);
  if (arch.empty() || arch.size() > 32) return false;
  for (char c : arch) {
    if (!lower_or_digit(c) && c != '-') return false;
  }
  return true;
}

ReleaseCache::ReleaseCache(fs::path data_dir, ArtifactStore& store, ReleaseCacheOptions options)
    : root_(data_dir / "releases"), store_(store), options_(std::move(options)) {}

Result<fs::path> ReleaseCache::release_dir(const std::string& app, const std::string& digest) const {
  SHOAL_RETURN_IF_ERROR(check_app(app));
  SHOAL_RETURN_IF_ERROR(check_digest(digest));
  return root_ / app / digest;
}

Result<fs::path> ReleaseCache::prepare(const std::string& app, uint64_t release_version,
                                       const std::string& slug_digest,
                                       const std::vector<std::string>& peers) {
  auto dest_or = release_dir(app, slug_digest);
  if (!dest_or.ok()) return dest_or.status();
  const fs::path dest = *dest_or;
  const std::string key = app + "/" + slug_digest;
  std::error_code ec;
  {
    // Under mu_ with remove_unused's check-and-move: either it sees this use, or this
    // sees the directory gone and unpacks again.
    std::lock_guard lock(mu_);
    last_prepared_[key] = steady_now();
    if (fs::is_directory(dest, ec)) return dest;
  }

  std::shared_ptr<std::mutex> gate;
  {
    std::lock_guard lock(mu_);
    auto& slot = preparing_[key];
    if (!slot) slot = std::make_shared<std::mutex>();
    gate = slot;
  }
  Status s;
  {
    std::lock_guard one(*gate);
    if (!fs::is_directory(dest, ec)) {
      const auto start = steady_now();
      s = store_.fetch(slug_digest, peers);
      if (s.ok()) s = unpack(store_.path(slug_digest), dest);
      if (s.ok()) {
        spdlog::info("release-unpacked app={} release={} digest={} ms={}", app, release_version,
                     slug_digest.substr(0, 12), to_millis(steady_now() - start));
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    auto it = preparing_.find(key);
    if (it != preparing_.end() && it->second == gate && gate.use_count() == 2) preparing_.erase(it);
  }
  if (!s.ok()) {
    return s.with_context("release v" + std::to_string(release_version) + " of " + app);
  }
  return dest;
}

Status ReleaseCache::unpack(const fs::path& blob, const fs::path& dest) {
  ++unpacks_;
  auto kind = detect_kind(blob);
  if (!kind.ok()) return kind.status();
  Status s;
  if (*kind == ArtifactKind::tar_gz) {
    s = extract_archive(blob, dest, options_.limits);
  } else {
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    if (ec) return Status::io_error("cannot create '" + dest.parent_path().string() + "': " + ec.message());
    std::string tmpl = (dest.parent_path() / ("." + dest.filename().string() + ".tmp-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return Status::io_error("cannot create a directory in '" + dest.parent_path().string() +
                              "': " + std::strerror(errno));
    }
    const fs::path tmp = tmpl;
    fs::copy_file(blob, tmp / kExecutableName, ec);
    if (!ec) fs::permissions(tmp / kExecutableName, static_cast<fs::perms>(0755), ec);
    if (!ec && ::chmod(tmp.c_str(), 0755) != 0) ec = std::error_code(errno, std::generic_category());
    if (!ec && ::rename(tmp.c_str(), dest.c_str()) != 0) {
      ec = std::error_code(errno, std::generic_category());
    }
    if (ec) {
      std::error_code rm;
      fs::remove_all(tmp, rm);
      if (ec.value() == EEXIST || ec.value() == ENOTEMPTY) {
        s = Status::already_exists("'" + dest.string() + "' exists already");
      } else {
        return Status::io_error("cannot place the executable in '" + dest.string() + "': " + ec.message());
      }
    }
  }
  // Another process unpacked the same digest first: its directory is as good as ours.
  if (s.is(Status::Code::already_exists)) return {};
  return s;
}

Result<size_t> ReleaseCache::remove_unused(const std::string& app,
                                           const std::set<std::string>& keep,
                                           TimePoint prepared_since) {
  SHOAL_RETURN_IF_ERROR(check_app(app));
  for (const auto& d : keep) SHOAL_RETURN_IF_ERROR(check_digest(d));
  const fs::path dir = root_ / app;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return size_t{0};
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > 3 && name.front() == '.' && name.ends_with(".gc")) {
      doomed.push_back(it->path());  // moved aside by an earlier pass that did not finish
      continue;
    }
    // ".DIGEST.tmp-XXXXXX": an unpack that died half-way (or one in progress).
    const std::string digest = name.front() == '.' ? name.substr(1, 64) : name;
    if (!is_valid_digest(digest) || keep.count(digest)) continue;
    if (name.front() != '.' && name != digest) continue;
    const std::string key = app + "/" + digest;
    std::lock_guard lock(mu_);
    if (preparing_.count(key)) continue;
    if (auto t = last_prepared_.find(key); t != last_prepared_.end()) {
      if (t->second >= prepared_since) continue;
      last_prepared_.erase(t);
    }
    if (name.front() == '.') {
      doomed.push_back(it->path());
      continue;
    }
    // Out of prepare()'s sight at once (a rename), removed below outside the lock.
    const fs::path aside = dir / ("." + name + ".gc");
    std::error_code mv;
    fs::rename(it->path(), aside, mv);
    if (!mv) doomed.push_back(aside);
  }
  if (ec) return Status::io_error("cannot list '" + dir.string() + "': " + ec.message());
  Status first_error;
  size_t removed = 0;
  for (const auto& p : doomed) {
    std::error_code rm;
    fs::remove_all(p, rm);
    if (rm && first_error.ok()) {
      first_error = Status::io_error("cannot remove '" + p.string() + "': " + rm.message());
    }
    if (!rm && p.filename().string().ends_with(".gc")) ++removed;
  }
  if (!first_error.ok()) return first_error;
  return removed;
}

Status ReleaseCache::remove_app_dir(const std::string& app) {
  SHOAL_RETURN_IF_ERROR(check_app(app));
  std::error_code ec;
  fs::remove(root_ / app, ec);  // only an empty directory
  if (ec && ec != std::errc::directory_not_empty && ec != std::errc::no_such_file_or_directory) {
    return Status::io_error("cannot remove '" + (root_ / app).string() + "': " + ec.message());
  }
  return {};
}

std::vector<std::string> ReleaseCache::apps() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (is_valid_app_name(name) && it->is_directory()) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status ReleaseCache::ensure_packages(const std::vector<std::string>& packages) {
  for (const auto& p : packages) {
    if (!is_valid_package_name(p)) {
      return Status::invalid_argument("'" + p.substr(0, 80) + "' is not a Debian package name");
    }
  }
  std::lock_guard one_install(packages_mu_);
  std::vector<std::string> missing;
  ScriptLimits quick;
  quick.timeout = std::chrono::seconds(30);
  quick.stdout_max = 64 * 1024;
  for (const auto& p : packages) {
    if (installed_.count(p)) continue;
    // Names are checked above: safe inside single quotes.
    const ScriptRun q = run_script("dpkg-query -W -f='${Status}' -- '" + p + "' 2>/dev/null", {}, "",
                                   quick);
    if (q.ok() && q.out.find("install ok installed") != std::string::npos) {
      installed_.insert(p);
    } else {
      missing.push_back(p);
    }
  }
  if (missing.empty()) return {};

  for (const auto& p : missing) {
    const ScriptRun policy = run_script("apt-cache policy -- '" + p + "'", {}, "", quick);
    if (policy.end != ScriptRun::End::exited) {
      return Status::unavailable("apt-cache policy " + p + ": " + policy.describe(quick));
    }
    const size_t at = policy.out.find("Candidate:");
    const bool none = at == std::string::npos ||
                      policy.out.compare(at, 17, "Candidate: (none)") == 0;
    if (none) {
      return Status::invalid_argument("package '" + p + "' does not exist in the apt sources");
    }
  }
  if (::geteuid() != 0) {
    return Status::failed_precondition("packages not installed: " + join(missing) +
                                       "; the agent is not root, so it cannot install them");
  }

  // Every agent on the host shares dpkg: serialize on a host-wide lock.
  const fs::path lock_path = options_.packages_lock;
  std::error_code ec;
  fs::create_directories(lock_path.parent_path(), ec);
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::io_error("cannot open '" + lock_path.string() + "': " + std::strerror(errno));
  }
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{fd};
  if (::flock(fd, LOCK_EX) != 0) {
    return Status::io_error("cannot lock '" + lock_path.string() + "': " + std::strerror(errno));
  }

  ScriptLimits install;
  install.timeout = options_.install_timeout;
  install.stdout_max = 1 << 20;
  install.stderr_max = 64 * 1024;
  const auto lock_wait_s = std::chrono::duration_cast<std::chrono::seconds>(options_.apt_lock_wait);
  std::string cmd = "apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=" +
                    std::to_string(lock_wait_s.count()) + " --";
  for (const auto& p : missing) cmd += " '" + p + "'";
  spdlog::info("packages-install packages=\"{}\"", join(missing));
  const auto start = steady_now();
  const ScriptRun run = run_script(cmd, {{"DEBIAN_FRONTEND", "noninteractive"}}, "", install);
  if (!run.ok()) {
    const std::string out = tail_of(run.err.empty() ? run.out : run.err, 600);
    return Status::failed_precondition("apt-get install " + join(missing) + " failed (" +
                                       run.describe(install) + "): " + out);
  }
  spdlog::info("packages-installed packages=\"{}\" ms={}", join(missing), to_millis(steady_now() - start));
  for (const auto& p : missing) installed_.insert(p);
  return {};
}

}  // namespace shoal::node
