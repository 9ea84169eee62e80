// node/supervisor/supervisor.h
//
// Supervisor: runs what the app leaders assign to this node (docs/apps.md). The IO shell
// around SupervisorCore (supervisor_core.h): shims (shim.h), pidfds, cgroups (cgroup.h),
// ports, per-instance directories and logs, and its own LevelDB at DATA_DIR/supervisor/db.
//
// Contract:
//  - open() detects cgroups (logging once what is missing), opens the DB, re-adopts the
//    shims recorded there that are still alive (same pid and /proc start time; watched by
//    pidfd), reads the exit status of those that died while the agent was down and
//    restarts them if still assigned; it never starts a second process for an instance
//    whose shim lives. Apps no leader re-asserts within policy.reassert_grace are stopped
//    (see supervisor_core.h: a leader pushes every second, so a live leader always does).
//  - assign() applies fencing and the new set (starting, stopping, restarting), persists it
//    (synced) before answering, and returns this node's report for the app;
//    failed_precondition for a stale term, invalid_argument never (callers parse first).
//  - Instances outlive the Supervisor object and the agent process: the destructor stops
//    the loop and closes its descriptors but signals nothing. stop_all() stops every
//    instance (SIGTERM, grace, SIGKILL) and waits, bounded; for tests and node teardown.
//  - Threads: one loop thread owns the core and every descriptor; public methods are
//    thread-safe and wait at most a few seconds for it (Status::timeout beyond).
//    PrepareRelease runs on a worker thread per instance being prepared (it may block for
//    long); the destructor waits for running ones. on_change runs on the loop thread and
//    must not call back into the Supervisor synchronously.
//  - Running as root, each app runs as uid = gid = 61000 + (app seq % 4000) (no passwd
//    entry, isolation.h) and reaches only its own release and home: the data dir,
//    supervisor/, instances/ and the releases dir are 0711 (traverse, no listing),
//    instances/APP/, instances/APP/ID/ and RELEASES/APP/ are root:APPGID 0710, HOME
//    (INSTANCE_DIR/home, TMPDIR in it) is the app's 0700, and every other entry of the data
//    dir is kept without group and other bits (sealed at open, before each start and at
//    each usage sample).
//    Files that hold config vars (spec.json, the DB) are root's only. An instance's
//    environment is instance_environment(): nothing of the agent's own.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "node/app_metrics.h"
#include "node/supervisor/assignment.h"
#include "node/supervisor/cgroup.h"
#include "node/supervisor/instance_logs.h"
#include "node/supervisor/supervisor_core.h"
#include "node/supervisor/usage_report.h"

namespace shoal::node::supervisor {

// Makes release `release` (slug `digest`) of `app` ready on this node and returns its
// directory (read-only to the app), which is RELEASES_DIR/APP/... when the supervisor is to
// keep other apps out of it. Blocking; called off the loop thread.
using PrepareRelease = std::function<Result<std::filesystem::path>(
    const std::string& app, int64_t release, const std::string& digest,
    const std::vector<std::string>& peers)>;

struct SupervisorOptions {
  std::string node_name;
  std::filesystem::path data_dir;
  PrepareRelease prepare;
  // Where `prepare` puts each app's releases (as APP/...); empty: DATA_DIR/releases. The
  // supervisor owns the modes of it and of its APP directories.
  std::filesystem::path releases_dir;
  // Where builds run as their app's uid (artifacts/builder.h): its owner opens it to
  // traversal and keeps each entry in it private, so sealing the data dir leaves it be.
  std::filesystem::path build_dir;
  int port_min = 20000;
  int port_max = 29999;
  CorePolicy policy;
  // The binary that has the hidden `shim` verb; empty: this process's own executable.
  std::string shim_binary;
  bool drop_privileges = true;  // only matters when running as root
  int64_t log_max_bytes = 10 * 1024 * 1024;
  int log_keep = 2;
  std::optional<CgroupHost> cgroups;  // default: detect_cgroup_host()
  // Called on the loop thread after an instance's state changed.
  std::function<void(const std::string& app, const InstanceStatus&)> on_change;
  // How often each running instance's cgroup (and the node) is sampled for its report's
  // `usage` and the history (docs/reporting.md); zero: never.
  Duration usage_interval = std::chrono::seconds(1);
};

class Supervisor {
 public:
  static Result<std::unique_ptr<Supervisor>> open(SupervisorOptions options);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  Result<AssignReport> assign(const Assignment& assignment);
  // Empty when the app has nothing here (or the loop did not answer in time).
  std::vector<InstanceStatus> report(const std::string& app);
  std::vector<std::string> apps();
  // SupervisorCore::digests_in_use(): per app, the slugs this node may still need. timeout
  // if the loop did not answer (a GC pass then keeps everything).
  Result<std::map<std::string, std::set<std::string>>> digests_in_use();
  Status stop_all(Duration timeout);

  // Log files of the app's instances (filtered; empty strings match all), for instance_logs.
  std::vector<LogSource> log_sources(const std::string& app, const std::string& type,
                                     const std::string& instance);
  int log_keep() const;
  // Runs `work(stopping)` on a thread the Supervisor owns and joins at destruction;
  // `stopping` becomes true then. unavailable past 64 running at once (log followers).
  Status run_background(std::function<void(const std::atomic<bool>& stopping)> work);

  const std::string& node_name() const;
  const CgroupHost& cgroups() const;
  // The cgroup usage of a running instance (issue 11); not_found if it has none.
  Result<CgroupUsage> usage(const std::string& app, const std::string& instance);
  // This node's resource use and its instances' (usage_report.h), with the history asked.
  Result<NodeUsageReport> usage_report(const UsageQuery& q);
  // The running instances whose app serves its own metrics, where to scrape them.
  std::vector<MetricsTarget> metrics_targets();

  struct Impl;

 private:
  explicit Supervisor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::node::supervisor
