// node/supervisor/supervisor_core.h
//
// SupervisorCore: the supervisor's decisions, sans IO. Given the leaders' assignments, what
// became of each instance's process and `now`, it says what to do: prepare a release,
// start, stop (SIGTERM), kill (SIGKILL after the grace), remove, persist, report.
//
// Rules:
//  - Fencing: the highest term seen per group is kept; an assignment with a lower term is
//    refused (failed_precondition) and changes nothing. An equal term is accepted
//    (level-triggered resends of the same leader).
//  - An assignment is the whole set for its app on this node: new ids are started, missing
//    ids are stopped and then removed, a changed spec (generation, release, command, env,
//    limits) restarts the instance; a new release is prepared before the old process stops.
//  - A process that ends without being asked to counts as a failure: restart after
//    backoff(f) for the f-th failure in a row: 0 for the first, then base, 2·base, 4·base ...
//    capped at backoff_max. A run of backoff_reset_after or more resets f. From f = K
//    (crash_loop_after) on, the state is `crashed` (still retried at the capped pace).
//    A generation bump resets f.
//  - Health (health_core.h): a running instance whose spec has a check is probed when its
//    tracker says so (CoreActions::probe); health_result() feeds the answer back. One found
//    unhealthy is stopped and, when it ends, counted as a failure exactly like a crash
//    (backoff, crash loop), its message "health check failed N times: <reason>". A change
//    of the check alone does not restart the process.
//  - restore() (after an agent restart) loads records: apps not re-asserted by an accepted
//    assignment within reassert_grace are stopped, as their leader no longer wants them here
//    (or no leader exists: a group without a leader for that long loses this node's
//    instances, which its next leader re-places). Until an app is re-asserted, its
//    instances whose processes died with the node are not started again (the leader may
//    have replaced them elsewhere: starting them would run them twice).
//  - Deterministic, no clock, no IO; not thread-safe (the supervisor's loop thread owns it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "base/time.h"
#include "node/supervisor/assignment.h"
#include "node/supervisor/health_core.h"

namespace shoal::node::supervisor {

struct CorePolicy {
  Duration stop_grace = std::chrono::seconds(10);  // unless the spec sets stop_grace_ms
  int crash_loop_after = 5;
  Duration backoff_base = std::chrono::seconds(1);
  Duration backoff_max = std::chrono::seconds(60);
  Duration backoff_reset_after = std::chrono::seconds(60);
  Duration reassert_grace = std::chrono::seconds(60);
};

// The delay before the restart that follows the `failures`-th failure in a row (1-based).
Duration backoff_delay(const CorePolicy& policy, int failures);

using InstanceKey = std::pair<std::string, std::string>;  // (app, instance id)

struct InstanceRecord {
  std::string app;
  InstanceSpec spec;                       // what the leader wants
  std::optional<InstanceSpec> running;     // what the live process runs, if one is alive
  InstanceState state = InstanceState::pending;
  bool assigned = true;
  int restarts = 0;
  int failures = 0;
  int pid = 0;
  int port = 0;
  int64_t since_ms = 0;
  std::string message;

  // Release preparation for spec.release/digest.
  bool prepared = false;
  bool preparing = false;
  std::string release_dir;
  int64_t prepared_release = -1;
  std::string prepared_digest;

  // Timers (monotonic; not persisted: restore() re-arms them from `now`).
  TimePoint started_at{};
  TimePoint restart_at{};
  TimePoint kill_at = kTimeNever;
  bool killed = false;

  // Health. The tracker is not persisted (an adopted process starts `starting` again);
  // health_stop is, so a stop for being unhealthy still counts as a failure after a restart.
  HealthTracker health;
  bool health_stop = false;  // stopping because unhealthy: its end is a failure

  // The shell's bookkeeping, persisted with the record, never read by the core.
  int shim_pid = 0;
  uint64_t shim_start_time = 0;
  std::vector<std::string> cgroup_dirs;

  bool alive() const { return running.has_value(); }
};

nlohmann::json to_json(const InstanceRecord& r);
Result<InstanceRecord> instance_record_from_json(const nlohmann::json& j);

struct CoreActions {
  std::vector<InstanceKey> prepare;  // call PrepareRelease for the record's spec
  std::vector<InstanceKey> start;    // spawn a shim for the record's spec
  std::vector<InstanceKey> stop;     // SIGTERM to the shim (it forwards to the app)
  std::vector<InstanceKey> kill;     // SIGKILL the app's group and cgroup
  std::vector<InstanceRecord> remove;  // gone from the core: clean up cgroup and dirs
  std::set<std::string> persist;     // apps whose records/assignment changed
  std::vector<InstanceKey> changed;  // state changes, for the report callback
  // Run the record's health check (spec.health, port, release_dir) off the loop and call
  // health_result() with this token.
  std::vector<std::pair<InstanceKey, uint64_t>> probe;
  TimePoint wake_at = kTimeNever;    // call tick() no later than this

  void merge(CoreActions&& other);
};

class SupervisorCore {
 public:
  explicit SupervisorCore(CorePolicy policy = {}) : policy_(policy) {}

  Result<CoreActions> assign(const Assignment& a, TimePoint now, int64_t wall_ms);
  // PrepareRelease finished for (release, digest) of the instance.
  CoreActions prepared(const InstanceKey& key, int64_t release, const std::string& digest,
                       const Result<std::string>& release_dir, TimePoint now, int64_t wall_ms);
  // The shim reported the app's pid (or an adopted one was found alive).
  CoreActions started(const InstanceKey& key, int pid, TimePoint now, int64_t wall_ms);
  // The process ended (`why`: "exit status 1", ...), or could not be started.
  CoreActions exited(const InstanceKey& key, const std::string& why, TimePoint now,
                     int64_t wall_ms);
  // A health probe asked for by CoreActions::probe ended: passed or not, and why.
  CoreActions health_result(const InstanceKey& key, uint64_t token, bool pass,
                            std::string output, TimePoint now, int64_t wall_ms);
  CoreActions tick(TimePoint now, int64_t wall_ms);
  // Stops every instance of `app` and forgets its assignment (no fencing: a local decision,
  // e.g. the node is being torn down).
  CoreActions drop_app(const std::string& app, TimePoint now, int64_t wall_ms);

  // After an agent restart: records as persisted (alive() says whether the shell found
  // their process still running) and the terms seen.
  CoreActions restore(std::vector<InstanceRecord> records, std::map<uint64_t, uint64_t> terms,
                      std::map<std::string, Assignment> assignments, TimePoint now,
                      int64_t wall_ms);

  InstanceRecord* find(const InstanceKey& key);
  std::vector<InstanceStatus> report(const std::string& app) const;
  std::vector<const InstanceRecord*> records(const std::string& app) const;
  std::vector<std::string> apps() const;
  const std::map<uint64_t, uint64_t>& terms() const { return terms_; }
  const Assignment* assignment(const std::string& app) const;
  // Per app, every slug digest this node may still need: those its assignment names, and
  // those its records want, run or have prepared (an old release still stopping included).
  std::map<std::string, std::set<std::string>> digests_in_use() const;
  const CorePolicy& policy() const { return policy_; }

  void check_invariants() const;

 private:
  void reconcile(InstanceRecord& r, TimePoint now, int64_t wall_ms, CoreActions& out);
  void set_state(InstanceRecord& r, InstanceState s, int64_t wall_ms, CoreActions& out,
                 std::string message = {});
  void begin_stop(InstanceRecord& r, TimePoint now, int64_t wall_ms, CoreActions& out);
  // SIGTERM to SIGKILL: the instance spec's stop_grace_ms, else policy_.stop_grace.
  Duration stop_grace(const InstanceRecord& r) const;
  TimePoint next_wake(TimePoint now) const;

  CorePolicy policy_;
  std::map<InstanceKey, InstanceRecord> records_;
  std::map<uint64_t, uint64_t> terms_;
  std::map<std::string, Assignment> assignments_;  // the last accepted one per app
  std::set<std::string> unconfirmed_;              // restored apps not yet re-asserted
  TimePoint reassert_deadline_ = kTimeNever;
};

}  // namespace shoal::node::supervisor
