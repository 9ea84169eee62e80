// node/apps/manifest.h
//
// Manifest: what an app's source says about how to run it: the process types of its
// `Procfile` plus the optional `shoal.toml` (build command, env defaults, default formation,
// memory/CPU limits, OS packages, health check, metrics path). The schema is in docs/apps.md,
// "Manifest". A release stores its manifest as JSON (to_json / manifest_from_json).
//
// Contract:
//  - Pure except load_manifest(), which reads the directory (never writes it).
//  - Every error is invalid_argument naming the file and the line (Procfile) or the key
//    (shoal.toml), e.g. "Procfile line 3: process type 'web' is defined twice (first on
//    line 1)" or "shoal.toml: unknown key 'limits.memroy_mb'".
//  - A Manifest that came out of parse_manifest/load_manifest/manifest_from_json passes
//    validate_manifest(): at least one process type, all names valid, every type named in
//    [formation], [limits.TYPE], [health] and [autoscale.TYPE] exists in the Procfile,
//    [deploy] in bounds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "node/apps/detect.h"

namespace shoal::node::apps {

inline constexpr int64_t kDefaultMemoryMb = 512;
inline constexpr int64_t kDefaultCpuMillis = 1000;  // one core
inline constexpr int kMaxInstancesPerType = 100;
inline constexpr size_t kMaxShellCommandBytes = 4096;  // a process, build or check command
// [deploy] bounds: a grace long enough to drain, short enough that a stop ends; a deadline
// long enough for a slow start, short enough that a broken release does not linger.
inline constexpr int64_t kMinStopGraceMs = 1'000, kMaxStopGraceMs = 300'000;
inline constexpr int64_t kMinHealthyDeadlineMs = 10'000, kMaxHealthyDeadlineMs = 3'600'000;

struct Limits {
  int64_t memory_mb = kDefaultMemoryMb;    // 16 .. 1048576
  int64_t cpu_millis = kDefaultCpuMillis;  // 10 .. 1024000 (1000 = one core)
  bool operator==(const Limits&) const = default;
};

// Parsed and validated now; the supervisor runs it in issue 8.
struct HealthCheck {
  std::string type = "http";    // http | tcp | command
  std::string process = "web";  // the process type it checks
  std::string path = "/";       // http: the path requested on PORT
  std::string command;          // command: run in the instance's directory; 0 = healthy
  int64_t interval_ms = 10'000;
  int64_t timeout_ms = 2'000;   // <= interval
  int64_t start_period_ms = 0;  // failures during it do not count
  int healthy_threshold = 1;    // consecutive passes to count as up
  int unhealthy_threshold = 3;  // consecutive failures to restart
  bool operator==(const HealthCheck&) const = default;
};

// [autoscale.TYPE] (docs/apps.md, "Autoscaling"): the app leader keeps the type's count
// within [min, max], aiming at target_cpu_percent of its cpu_millis limit (autoscaler.h).
inline constexpr int64_t kMaxTargetRps = 1'000'000;

struct AutoscaleRule {
  int min = 1;                  // 0 .. max
  int max = 1;                  // 1 .. 100
  int target_cpu_percent = 70;  // 1 .. 100, of the type's cpu_millis limit
  int64_t cooldown_ms = 60'000; // between two scalings (>= 1 s)
  int64_t window_ms = 30'000;   // the CPU mean's and request rate's window (>= 1 s)
  // web only: requests per second per instance through the routers; 0: not a signal.
  int64_t target_rps = 0;       // 0 .. kMaxTargetRps
  bool operator==(const AutoscaleRule&) const = default;
};

// How a release rolls out ([deploy] of shoal.toml; docs/apps.md, "Rollouts"). Per process type:
// at most `max_surge` instances above the count while old ones are replaced, and at most
// `max_unavailable` below it (counting up instances); not both 0.
struct DeployPolicy {
  int max_surge = 1;        // 0 .. 100
  int max_unavailable = 0;  // 0 .. 100
  // SIGTERM, then this long before SIGKILL (kMinStopGraceMs .. kMaxStopGraceMs).
  int64_t stop_grace_ms = 10'000;
  // How long after the release was made its instances have to be up before the app leader
  // rolls it back (while an older release still serves).
  int64_t healthy_deadline_ms = 120'000;
  bool operator==(const DeployPolicy&) const = default;
};

struct ProcessType {
  std::string type;
  std::string command;
  bool operator==(const ProcessType&) const = default;
};

struct Manifest {
  std::vector<ProcessType> processes;         // in Procfile order
  std::optional<std::string> build;           // run once per release, in the source dir
  std::map<std::string, std::string> env;     // defaults; config vars override them
  std::map<std::string, int> formation;       // default counts of the types named
  Limits limits;                              // for every type...
  std::map<std::string, Limits> type_limits;  // ...but these (full values, merged)
  std::vector<std::string> packages;          // Debian packages to apt-get install
  std::optional<HealthCheck> health;
  std::optional<std::string> metrics_path;  // scraped on PORT, starts with '/'
  std::map<std::string, AutoscaleRule> autoscale;  // [autoscale.TYPE]
  DeployPolicy deploy;                      // [deploy]; defaults when absent

  bool operator==(const Manifest&) const = default;

  const std::string* command(std::string_view type) const;  // nullptr: no such type
  bool has_type(std::string_view type) const { return command(type) != nullptr; }
  std::vector<std::string> types() const;  // Procfile order
  // [formation]'s count, else 1 for `web`, else 0.
  int default_count(std::string_view type) const;
  Limits limits_for(std::string_view type) const;
  const AutoscaleRule* autoscale_for(std::string_view type) const;  // nullptr: fixed count
};

Status validate_manifest(const Manifest& m);

// `procfile`: the Procfile's text. `shoal_toml`: its text, empty when there is none.
Result<Manifest> parse_manifest(std::string_view procfile, std::string_view shoal_toml);

// Reads DIR/Procfile and DIR/shoal.toml. Without a Procfile, the directory's kind decides
// (detect.h; `detected`, when given, says which), else a directory that holds exactly one
// regular executable file (besides an optional shoal.toml) runs it as `web: ./FILE`.
Result<Manifest> load_manifest(const std::filesystem::path& dir,
                               std::optional<Detection>* detected = nullptr);

nlohmann::json to_json(const Manifest& m);
Result<Manifest> manifest_from_json(const nlohmann::json& j);

}  // namespace shoal::node::apps
