// node/script_process.h
//
// run_script: run `/bin/sh -c SCRIPT` to completion, feeding it stdin and capturing its
// stdout and stderr, bounded in time and memory. What the event handlers are built on.
//
// Contract:
//  - Blocking: returns when the shell has exited (or was killed) and its output is read.
//    Call it from a worker thread, never from the agent's loop.
//  - The child runs in a process group of its own, with the agent's environment plus
//    `env` (same names replaced; only `env` when limits.inherit_environment is false), in
//    limits.cwd (default: the agent's), as limits.uid/gid when set (through setpriv, no
//    supplementary groups), default signal dispositions (the agent ignores SIGPIPE;
//    the script must not), and no file descriptor of the agent but 0, 1 and 2.
//  - Past `timeout`, or when `*cancel` becomes true, the whole process group gets SIGKILL.
//  - Output past `stdout_max` / `stderr_max` is read and counted but not kept. After the
//    shell exits, output is read for at most a short grace: a background process the
//    script left holding the pipes does not hold up the caller.
//  - A write to a script that does not read its stdin is not an error.
//  - Thread-safe: each call is independent.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/time.h"

namespace shoal::node {

struct ScriptLimits {
  Duration timeout = std::chrono::seconds(30);
  size_t stdout_max = 8 * 1024;
  size_t stderr_max = 8 * 1024;
  // Called once (from the calling thread) if the script still runs after `slow_after`.
  Duration slow_after = std::chrono::seconds(1);
  std::function<void(Duration)> on_slow;
  // Called (from the calling thread) with each piece of output as it is read, before and
  // whatever the *_max limits keep: for streaming a long script's output (builds).
  std::function<void(std::string_view data, bool is_stderr)> on_output;
  std::string cwd;                  // empty: the agent's
  int uid = -1;                     // >= 0 (with gid): run as this uid and gid
  int gid = -1;
  bool inherit_environment = true;  // false: the child sees only `env`
};

struct ScriptRun {
  enum class End : uint8_t { exited, signaled, timed_out, cancelled, spawn_failed };
  End end = End::spawn_failed;
  int exit_code = -1;  // End::exited
  int signal = 0;      // End::signaled
  std::string spawn_error;
  std::string out, err;  // the first stdout_max / stderr_max bytes
  size_t out_total = 0, err_total = 0;
  Duration took{};

  bool ok() const { return end == End::exited && exit_code == 0; }
  // "exit status 3", "killed by signal 9", "timed out after 2000 ms and was killed", ...
  std::string describe(const ScriptLimits& limits) const;
};

ScriptRun run_script(const std::string& script,
                     const std::vector<std::pair<std::string, std::string>>& env,
                     std::string_view stdin_data, const ScriptLimits& limits,
                     const std::atomic<bool>* cancel = nullptr);

}  // namespace shoal::node
