// node/apps/app_state.h
//
// AppState: the state machine of one app's Raft group. It holds the app's releases
// (numbered 1, 2, ...; immutable once made), its config vars, the formation (process type
// -> count and limits), whether it is stopped, and the instance table that the app leader
// (scheduler.h) fills with `place` and the supervisors' reports update.
//
// Contract:
//  - Commands come from the static builders and go through Raft; apply() returns a result
//    (command_result.h). A command that does not decode or fails validation changes nothing.
//    apply() is deterministic (commands carry now_ms, ids come from counters in the state)
//    and never throws.
//  - Every change of code or config is a new release: add_release (a deploy), set_config,
//    rollback. The newest release is the current one. Only the last kKeptReleases releases
//    are kept, plus any older one an instance still runs; older ones are dropped (rollback
//    to them is not_found) and their digests leave kept_digests(), so the artifact store can
//    collect them.
//  - The formation follows the manifest: a type that appears gets its default count
//    (Manifest::default_count) and limits; a type that disappears is dropped (count 0); a
//    type whose manifest limits change takes the new limits; otherwise set_limits sticks.
//  - snapshot()/restore() as for CatalogState: msgpack of the whole state; restore refuses
//    bytes it cannot decode (corruption naming the problem) and changes nothing.
//  - Not thread-safe: the Raft host's thread applies, and whoever reads the state does so
//    on that thread (or from a copy made there).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "node/apps/app_events.h"
#include "node/apps/command_result.h"
#include "node/apps/manifest.h"
#include "raft/state_machine.h"

namespace shoal::node::apps {

inline constexpr size_t kKeptReleases = 10;
inline constexpr size_t kMaxInstances = 10'000;

struct Release {
  uint64_t version = 0;
  std::string digest;         // sha256 hex of the slug that runs
  std::string source_digest;  // sha256 hex of what was uploaded ("" if the same)
  nlohmann::json manifest;    // to_json(Manifest)
  std::map<std::string, std::string> config;
  std::string description;  // "deploy", "config set K", "rollback to v3"
  int64_t created_ms = 0;
  std::string commit;  // git commit id, "" unless deployed by git push
  bool operator==(const Release&) const = default;
};

struct FormationEntry {
  int count = 0;
  int64_t memory_mb = kDefaultMemoryMb;
  int64_t cpu_millis = kDefaultCpuMillis;
  bool operator==(const FormationEntry&) const = default;
};

// "assigned" (placed, no report yet), then what supervisors report (docs/apps.md):
// pending, starting, running, backoff, crashed, stopping, stopped, failed.
bool is_reported_state(std::string_view state);
// none, starting, healthy, unhealthy (docs/supervisor.md, "Health checks").
bool is_health(std::string_view health);

struct Instance {
  std::string id;  // "TYPE.N"
  std::string type;
  std::string node;
  uint64_t release = 0;
  uint64_t generation = 0;           // bumped by restart; the supervisor restarts on change
  uint64_t reported_generation = 0;  // the generation the supervisor last said it runs
  std::string state = "assigned";
  int64_t pid = 0;
  int64_t port = 0;
  int64_t restarts = 0;
  int64_t since_ms = 0;
  std::string message;
  // The supervisor's health verdict (docs/supervisor.md): none (no check: healthy once
  // running) | starting | healthy | unhealthy; and the last check's output.
  std::string health = "none";
  std::string health_output;
  bool desired = true;  // false: unplaced, the supervisor is being told to stop it
  // Marked to be replaced (rebalancing, or a rolling restart of its app or type;
  // scheduler.h): a replacement is placed and this one is unplaced once the replacement is
  // up, exactly as for a rollout.
  bool replace = false;
  bool operator==(const Instance&) const = default;
};

// What a rollout counts as up: running and healthy, or running without a check.
bool is_up(const Instance& i);

// One line of a supervisor's report (POST /v1/internal/assign's answer).
struct InstanceReport {
  std::string id;
  std::string state;
  int64_t pid = 0;
  int64_t port = 0;
  int64_t restarts = 0;
  uint64_t generation = 0;
  int64_t since_ms = 0;
  std::string message;
  std::string health = "none";
  std::string health_output;
};

class AppState final : public raft::StateMachine {
 public:
  // ---- command builders (results in brackets; errors as listed) ----
  // Names the app, once, when its group is made. [name] invalid; conflict if named otherwise.
  static Bytes set_app(std::string_view name);
  // A deploy. [release] invalid: bad digest, manifest that does not validate.
  static Bytes add_release(std::string_view digest, std::string_view source_digest,
                           const nlohmann::json& manifest, std::string_view description,
                           int64_t now_ms, std::string_view commit = {});
  // A new release with the current code and changed config. [release (null before the
  // first deploy: the config waits for it)] invalid: bad key, a key both set and unset, nothing.
  static Bytes set_config(const std::map<std::string, std::string>& set,
                          const std::vector<std::string>& unset, int64_t now_ms);
  // A new release equal to vN (default: the kept release before the current one).
  // [release, from] not_found: no such kept release; conflict: vN is current / nothing before.
  // `description` replaces "rollback to vN"; with `if_current`, conflict unless that is the
  // current release (the leader's automatic rollback must not undo a newer deploy).
  static Bytes rollback(std::optional<uint64_t> version, int64_t now_ms,
                        std::string_view description = {},
                        std::optional<uint64_t> if_current = {});
  // [formation] invalid: unknown type (the message lists the known ones), count not 0..100
  // or outside an autoscaled type's [autoscale.TYPE] min..max;
  // conflict: no release yet.
  static Bytes scale(const std::map<std::string, int>& counts, int64_t now_ms = 0);
  // [formation] invalid: unknown type, limit out of range, neither limit given.
  static Bytes set_limits(std::string_view type, std::optional<int64_t> memory_mb,
                          std::optional<int64_t> cpu_millis);
  // [stopped]
  static Bytes set_stopped(bool stopped, int64_t now_ms = 0);
  // target "": every desired instance; a process type; or an instance id. [restarted: ids]
  // not_found: neither a type of the formation or current release nor an instance. An
  // instance id restarts in place (bumps `generation`); the app or a type restarts rolling
  // (marks the instances `replace`: the scheduler replaces them like an older release's).
  static Bytes restart(std::string_view target, int64_t now_ms = 0);
  // [id] (TYPE.N, N from a counter). not_found: release not kept; invalid: type not in
  // that release, bad node; conflict: the table is full (kMaxInstances).
  static Bytes place(std::string_view type, std::string_view node, uint64_t release,
                     int64_t now_ms);
  // Marks the instance not desired. [id] not_found.
  static Bytes unplace(std::string_view id, int64_t now_ms = 0);
  // Forgets the instance. [id] not_found.
  static Bytes remove_instance(std::string_view id);
  // Marks a desired instance to be replaced (Instance::replace). [id] not_found: no such
  // desired instance.
  static Bytes replace_instance(std::string_view id);
  // A supervisor's report: updates the listed instances that live on `node`; lines for
  // unknown instances or another node's are ignored. [updated, ignored: ids] invalid: a
  // malformed line (nothing is applied then).
  static Bytes report(std::string_view node, const std::vector<InstanceReport>& instances,
                      int64_t now_ms = 0);
  // (The event ops, node_failed, leader_changed and record_event, are built in app_events.h.
  // now_ms = 0 above: the command carries no time and its events take the newest seen.)

  Bytes apply(const raft::Entry& entry) override;
  Bytes snapshot() const override;
  Status restore(ByteView data) override;

  // ---- reads ----
  const std::string& name() const { return name_; }
  const std::map<uint64_t, Release>& releases() const { return releases_; }
  const Release* release(uint64_t version) const;
  uint64_t current_version() const { return current_; }  // 0: no release yet
  const Release* current_release() const { return release(current_); }
  const Manifest* current_manifest() const {
    return current_manifest_ ? &*current_manifest_ : nullptr;
  }
  const std::map<std::string, std::string>& config() const { return config_; }
  const std::map<std::string, FormationEntry>& formation() const { return formation_; }
  bool stopped() const { return stopped_; }
  const std::map<std::string, Instance>& instances() const { return instances_; }
  const Instance* instance(const std::string& id) const;
  uint64_t next_instance_seq() const { return next_instance_seq_; }
  uint64_t next_version() const { return next_version_; }
  // Slug and source digests of every kept release.
  std::set<std::string> kept_digests() const;
  // Lifecycle events and failover episodes (app_events.h).
  const AppEvents& events() const { return events_; }

 private:
  Bytes apply_command(const nlohmann::json& command);
  Bytes do_add_release(const nlohmann::json& c);
  Bytes do_set_config(const nlohmann::json& c);
  Bytes do_rollback(const nlohmann::json& c);
  Bytes do_scale(const nlohmann::json& c);
  Bytes do_set_limits(const nlohmann::json& c);
  Bytes do_restart(const nlohmann::json& c);
  Bytes do_place(const nlohmann::json& c);
  Bytes do_report(const nlohmann::json& c);
  // Appends a release, makes it current, fits the formation to its manifest.
  uint64_t push_release(Release r, Manifest manifest);
  void prune_releases();
  nlohmann::json formation_json() const;

  std::string name_;
  std::map<uint64_t, Release> releases_;
  uint64_t current_ = 0;
  uint64_t next_version_ = 1;
  std::optional<Manifest> current_manifest_;   // decoded releases_[current_].manifest
  std::map<std::string, std::string> config_;  // the current release's, or waiting for one
  std::map<std::string, FormationEntry> formation_;
  bool stopped_ = false;
  std::map<std::string, Instance> instances_;
  uint64_t next_instance_seq_ = 1;
  AppEvents events_;
};

}  // namespace shoal::node::apps
