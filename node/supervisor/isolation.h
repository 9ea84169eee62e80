// node/supervisor/isolation.h
//
// What keeps one app's instances away from another app's and from the agent
// (docs/supervisor.md, "Isolation"): the uid each app runs as, the exact modes of the
// directories on an app's way through the data dir, the sealing of everything else in the
// data dir, and the environment an instance is given.
//
// Contract:
//  - app_uid(group) is pure: 61000 + (seq % 4000), used as uid and gid; no passwd entry.
//  - make_dir() leaves one directory with exactly `mode` (the umask plays no part) and, for
//    uid / gid >= 0, that owner / group (-1 leaves it). The parent must exist. It never
//    follows a symlink in the last component: a symlink or non-directory there is
//    failed_precondition and nothing is changed. Every earlier component must be out of
//    reach of the uids being kept out (root-owned, not writable by them), which is what the
//    supervisor's layout guarantees.
//  - seal_data_dir() takes group and other bits off every entry directly in `dir` except
//    those named in `open` (symlinks are skipped, not followed) and returns the names it
//    changed: once the data dir itself is traversable by others, this is what keeps the
//    agent's own files (Raft log, keyring, snapshot, tokens, logs) root's only.
//  - remove_tree() removes a directory tree an app's uid may still be changing (its HOME,
//    while another instance of the app runs as the same uid): every step is relative to a
//    descriptor opened without following symlinks, so a directory swapped for a symlink
//    midway loses the link, never what it points at. Missing is fine; bounded depth.
//  - write_private_file() replaces a file atomically (temp file + rename) with mode 0600
//    from the moment it exists; no fsync.
//  - instance_environment() is pure and is the whole environment of an instance and of its
//    command health checks: nothing comes from the agent's own environment.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "node/private_file.h"

namespace shoal::node::supervisor {

inline constexpr int kAppUidBase = 61000;
inline constexpr int kAppUidRange = 4000;

// Directory modes on an app's way through the data dir, when apps run as their own uids.
inline constexpr mode_t kTraverseDirMode = 0711;  // the data dir, supervisor/, instances/, releases/
inline constexpr mode_t kAppDirMode = 0710;       // root:APPGID: instances/APP/..., releases/APP
inline constexpr mode_t kPrivateDirMode = 0700;   // supervisor/db; an instance's home (as its uid)
inline constexpr mode_t kPrivateFileMode = 0600;  // spec.json, logs, status files

// The uid (and gid) of the app whose Raft group is `group`.
int app_uid(uint64_t group);

Status make_dir(const std::filesystem::path& path, mode_t mode, int uid = -1, int gid = -1);

Result<std::vector<std::string>> seal_data_dir(const std::filesystem::path& dir,
                                               const std::set<std::string>& open);

Status remove_tree(const std::filesystem::path& path);

// write_private_file() is node/private_file.h's (no sync).
using node::write_private_file;

// Who an instance is, for its environment.
struct InstanceIdentity {
  std::string app;
  std::string instance;
  std::string type;
  int64_t release = 0;
  int port = 0;
  std::filesystem::path home;  // HOME; TMPDIR is HOME/tmp
};

// PATH (unless the app sets its own), the app's env (its manifest's [env] and its config
// vars), then what the platform sets and the app cannot override: platform_env_names().
std::map<std::string, std::string> instance_environment(
    const InstanceIdentity& who, const std::map<std::string, std::string>& app_env);

// PORT, HOME, TMPDIR, SHOAL_APP, SHOAL_RELEASE, SHOAL_INSTANCE, SHOAL_PROCESS_TYPE.
const std::vector<std::string>& platform_env_names();

inline constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

}  // namespace shoal::node::supervisor
