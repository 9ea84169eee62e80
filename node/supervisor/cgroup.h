// node/supervisor/cgroup.h
//
// Cgroups for app instances, written straight to cgroupfs (PID 1 is not systemd here).
//
// detect_cgroup_host() finds what the host offers: per-controller cgroup v1 hierarchies
// (memory, cpu, cpuacct, pids) and/or a v2 unified hierarchy with the controllers enabled
// in it. A controller mounted as v1 is used through v1; one that is only in v2 through v2.
// Our subtree lives under the agent's own cgroup in each hierarchy (so an agent that was
// itself confined stays confined, and several agents on one host use
// shoal/<node>/<app>/<instance> without colliding).
//
// Contract:
//  - parse_mountinfo / detect_from_text are pure (fixture-tested); detect_cgroup_host()
//    reads /proc/self/mountinfo, /proc/cgroups, /proc/self/cgroup and cgroup.controllers.
//  - A missing controller is not an error: CgroupHost::missing lists it, the caller logs it
//    once, and Cgroup::create applies the limits it can. A limit that cannot be written is
//    logged (once per kind) and skipped: an instance never fails for want of a cgroup.
//  - Cgroup::create fails (io_error) only when no hierarchy at all could hold the cgroup.
//  - Not thread-safe per object; distinct objects are independent.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace shoal::node::supervisor {

struct MountEntry {
  std::string root;         // the part of the hierarchy mounted here ("/" usually)
  std::string mount_point;  // octal escapes (\040) decoded
  std::string fstype;       // "cgroup", "cgroup2", "tmpfs", ...
  std::vector<std::string> super_options;  // "rw", "memory", "name=systemd", ...
};
// Lines that do not parse are skipped.
std::vector<MountEntry> parse_mountinfo(std::string_view text);

struct CgroupHost {
  // v1: controller ("memory", "cpu", "cpuacct", "pids") -> the agent's own cgroup dir.
  std::map<std::string, std::filesystem::path> v1;
  // v2: the agent's own cgroup dir in the unified hierarchy, and the controllers usable
  // there (from its cgroup.controllers) that are not already served by v1.
  std::optional<std::filesystem::path> v2;
  std::set<std::string> v2_controllers;
  // Of memory, cpu, pids: those neither v1 nor v2 offers.
  std::vector<std::string> missing;

  bool empty() const { return v1.empty() && !v2; }
  // Whether a memory / CPU limit can be enforced here (a controller in v1 or v2).
  bool limits_memory() const { return v1.count("memory") || v2_controllers.count("memory"); }
  bool limits_cpu() const { return v1.count("cpu") || v2_controllers.count("cpu"); }
  std::string describe() const;  // "v1: cpu memory pids; v2: none; missing: -"
};

// Pure: `v2_controllers` is the text of the agent's cgroup.controllers in the unified
// hierarchy (as read by the caller), empty if there is none.
CgroupHost detect_from_text(std::string_view mountinfo, std::string_view proc_cgroups,
                            std::string_view self_cgroup, std::string_view v2_controllers);
CgroupHost detect_cgroup_host();

struct CgroupLimits {
  int64_t memory_mb = 0;   // 0: none
  int64_t cpu_millis = 0;  // 1000 = one core; 0: none
  int64_t pids = 0;        // 0: none
};

struct CgroupUsage {
  int64_t memory_bytes = -1;  // -1: unknown
  int64_t rss_bytes = -1;
  int64_t cpu_ns = -1;
  int64_t oom_kills = -1;
  int64_t nr_throttled = -1;  // CFS periods in which the CPU quota held the cgroup back
  int64_t throttled_ns = -1;  // time it spent held back
};

// The reason an instance ended when its cgroup's OOM killer fired during the run
// (docs/supervisor.md, "Resource use"): "killed: out of memory (limit 32 MB)".
std::string oom_message(int64_t memory_mb);

class Cgroup {
 public:
  Cgroup() = default;
  // Creates (or reuses) base/parts... in every hierarchy, applies `limits`.
  static Result<Cgroup> create(const CgroupHost& host, const std::vector<std::string>& parts,
                               const CgroupLimits& limits);
  // An existing cgroup from its recorded directories (after an agent restart).
  static Cgroup at(std::vector<std::filesystem::path> dirs);

  const std::vector<std::filesystem::path>& dirs() const { return dirs_; }
  bool empty() const { return dirs_.empty(); }

  Status add(pid_t pid) const;     // into every hierarchy
  std::vector<pid_t> pids() const; // from the first hierarchy
  // SIGKILL to every process until none is left (bounded: ~1 s).
  void kill_all() const;
  // rmdir of every dir (retried briefly while the kernel lets go of exited tasks).
  Status remove() const;
  CgroupUsage usage() const;

 private:
  explicit Cgroup(std::vector<std::filesystem::path> dirs) : dirs_(std::move(dirs)) {}
  std::vector<std::filesystem::path> dirs_;
};

}  // namespace shoal::node::supervisor
