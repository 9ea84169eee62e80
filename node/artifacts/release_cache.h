// node/artifacts/release_cache.h
//
// ReleaseCache: the releases this node runs, unpacked under DATA_DIR/releases/APP/DIGEST,
// and the OS packages their manifests ask for.
//
// Contract:
//  - prepare() fetches the slug into the ArtifactStore if it is missing (from `peers`),
//    then unpacks it once: a tar.gz through extract_archive (all its checks and limits), a
//    single executable as DIGEST/app with mode 0755 (kExecutableName). The directory
//    appears whole or not at all (unpacked beside it, then renamed). Calls for the same
//    app and digest from many threads unpack once; the others wait and get the same path.
//    Errors: invalid_argument for a bad app name or digest, the store's fetch error, the
//    archive's refusal (naming the entry).
//  - Instances share the unpacked directory (read-mostly): what an instance writes there
//    is seen by the others of the same release on this node.
//  - remove_unused(app, keep, since) deletes the app's unpacked releases not in `keep`,
//    never one being prepared nor one prepare()d at or after `since` (a GC pass passes the
//    time it started reading what is in use, so a release assigned meanwhile survives);
//    returns how many it removed. A release is moved aside under the lock prepare() checks
//    it with, so prepare() either sees it whole or unpacks it again. remove_app_dir()
//    removes DATA_DIR/releases/APP once it is empty (a destroyed app).
//  - ensure_packages(): one install at a time per host (a mutex, and an flock on
//    `packages_lock` that every agent on the host shares; apt-get also waits up to
//    `apt_lock_wait` for dpkg's own lock). Packages dpkg says are installed are a no-op
//    (remembered, so apt is not asked twice); a name that is not a Debian package name, or
//    that apt-cache knows no candidate for, is invalid_argument naming it ("package 'x'
//    does not exist in the apt sources") before anything is installed; not being root is
//    failed_precondition naming what is missing. apt-get install runs with no
//    recommends, noninteractive, bounded by `install_timeout`.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "node/artifacts/archive.h"
#include "node/artifacts/artifact_store.h"

namespace shoal::node {

// The file name a single-executable artifact gets inside its release directory.
inline constexpr const char* kExecutableName = "app";

struct ReleaseCacheOptions {
  ExtractLimits limits;
  // Host-wide: two agents on one host have different data dirs but one dpkg.
  std::filesystem::path packages_lock = "/run/lock/shoal-packages.lock";
  Duration apt_lock_wait = std::chrono::minutes(5);
  Duration install_timeout = std::chrono::minutes(15);
};

class ReleaseCache {
 public:
  ReleaseCache(std::filesystem::path data_dir, ArtifactStore& store,
               ReleaseCacheOptions options = {});

  Result<std::filesystem::path> prepare(const std::string& app, uint64_t release_version,
                                        const std::string& slug_digest,
                                        const std::vector<std::string>& peers);
  Result<size_t> remove_unused(const std::string& app, const std::set<std::string>& keep_digests,
                               TimePoint prepared_since = kTimeNever);
  Status remove_app_dir(const std::string& app);
  // Apps with a directory under DATA_DIR/releases, sorted.
  std::vector<std::string> apps() const;
  // DATA_DIR/releases/APP/DIGEST, whether or not it is there.
  Result<std::filesystem::path> release_dir(const std::string& app,
                                            const std::string& digest) const;

  Status ensure_packages(const std::vector<std::string>& packages);

  // How many times a slug was unpacked (for tests and metrics).
  uint64_t unpacks() const { return unpacks_.load(); }

 private:
  Status unpack(const std::filesystem::path& blob, const std::filesystem::path& dest);

  std::filesystem::path root_;  // DATA_DIR/releases
  ArtifactStore& store_;
  ReleaseCacheOptions options_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> preparing_;  // "app/digest"
  std::map<std::string, TimePoint> last_prepared_;                 // "app/digest"

  std::mutex packages_mu_;  // held through a whole ensure_packages
  std::set<std::string> installed_;
  std::atomic<uint64_t> unpacks_{0};
};

// Debian package names: [a-z0-9][a-z0-9+.-]+, optionally ":arch". Never an option.
bool is_valid_package_name(std::string_view name);

}  // namespace shoal::node
