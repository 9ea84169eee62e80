// node/supervisor/shim.h
//
// The shim: one small `shoal shim` process per running instance (the role containerd-shim
// and conmon play), so an instance outlives the agent that started it and its output is
// still logged while the agent restarts.
//
// The supervisor writes a ShimSpec to INSTANCE_DIR/spec.json and spawns
// `shoal shim --spec FILE --notify-fd 3` in a session of its own (setsid). The shim:
//  1. forks the app: `/bin/sh -c COMMAND` in the release dir, with exactly the spec's env,
//     in its own process group, joined to the instance's cgroups *by the app itself* before
//     exec (so the shim is not counted against the instance's limits and a cgroup kill never
//     takes the shim down before it has recorded the exit), with the spec's uid/gid when set;
//  2. writes INSTANCE_DIR/app.json {"pid", "start_time"} and then "PID\n" to the notify fd
//     (and closes it: EOF without a pid means the app could not be forked);
//  3. timestamps every stdout/stderr line into INSTANCE_DIR/log as "TS_MS out|err TEXT\n"
//     (lines over 16 KiB are split), rotating at log_max_bytes and keeping log_keep old
//     files (log.1, log.2, ...);
//  4. forwards SIGTERM/SIGINT to the app's process group;
//  5. when the app exits: SIGKILLs what is left of its process group and cgroup, drains the
//     pipes (bounded), writes INSTANCE_DIR/status.json atomically, and exits 0.
//
// Contract: run_shim() returns the shim's exit code (0 after a status file was written;
// 1 when the spec is unusable or the app could not be forked: status.json then carries
// "message"). Runs in its own single-threaded process; never call it inside the agent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace shoal::node::supervisor {

struct ShimSpec {
  std::string app;
  std::string instance;
  std::string type;
  std::filesystem::path release_dir;
  std::filesystem::path instance_dir;
  std::string command;
  std::map<std::string, std::string> env;  // the app's whole environment
  int uid = -1;                            // -1: keep the shim's
  int gid = -1;
  std::vector<std::string> cgroup_dirs;
  int64_t log_max_bytes = 10 * 1024 * 1024;
  int log_keep = 2;
};

nlohmann::json to_json(const ShimSpec& s);
Result<ShimSpec> shim_spec_from_json(const nlohmann::json& j);

// What status.json holds once the app has exited.
struct ShimExit {
  int app_pid = 0;
  std::optional<int> exit_code;  // exited normally
  std::optional<int> signal;     // killed by a signal
  int64_t ended_ms = 0;
  std::string message;  // why the app never ran, when it did not

  std::string describe() const;  // "exit status 1", "killed by signal 9", message
};
nlohmann::json to_json(const ShimExit& e);
Result<ShimExit> read_shim_exit(const std::filesystem::path& instance_dir);

struct AppPid {
  int pid = 0;
  uint64_t start_time = 0;  // /proc/PID/stat field 22
};
Result<AppPid> read_app_pid(const std::filesystem::path& instance_dir);

// /proc/PID/stat starttime (clock ticks since boot), or 0 when the process is gone or is a
// zombie: with the pid, it names one process across pid reuse.
uint64_t process_start_time(int pid);

int run_shim(const std::filesystem::path& spec_path, int notify_fd);

// File names inside an instance directory.
inline constexpr const char* kSpecFile = "spec.json";
inline constexpr const char* kLogFile = "log";
inline constexpr const char* kStatusFile = "status.json";
inline constexpr const char* kAppPidFile = "app.json";
inline constexpr const char* kShimLogFile = "shim.log";

}  // namespace shoal::node::supervisor
