// node/supervisor/assignment.h
//
// The JSON contract between an app leader and a node's supervisor (docs/apps.md,
// `POST /v1/internal/assign`): the Assignment the leader sends, and the AssignReport the
// supervisor answers with.
//
// Contract:
//  - parse_assignment() checks every field it will use (types, ranges, and names that end
//    up in paths: app is a DNS label, instance ids are [a-z0-9._-], no "." or ".." alone),
//    and returns invalid_argument naming the field; it never throws.
//  - to_json() of a parsed Assignment parses back to an equal one.
//  - Plain values: no locking, no IO.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace shoal::node::supervisor {

// The first app group id (docs/apps.md): an app's group is kAppGroupBase + seq.
inline constexpr uint64_t kAppGroupBase = uint64_t{1} << 62;

// The [health] check of the instance's process type (docs/apps.md, "Manifest"), as the app
// leader copies it from the release's manifest. Checked by the supervisor (health_core.h).
struct HealthSpec {
  std::string type = "http";  // http | tcp | command
  std::string path = "/";     // http
  std::string command;        // command
  int64_t interval_ms = 10'000;
  int64_t timeout_ms = 2'000;
  int64_t start_period_ms = 0;
  int healthy_threshold = 1;
  int unhealthy_threshold = 3;

  bool operator==(const HealthSpec&) const = default;
};

struct InstanceSpec {
  std::string id;    // "web.3f9a1c": unique within the app, used in paths
  std::string type;  // "web"
  int64_t release = 0;
  std::string digest;
  std::string command;
  std::map<std::string, std::string> env;
  int64_t memory_mb = 0;   // 0: no limit
  int64_t cpu_millis = 0;  // 0: no limit
  int64_t generation = 0;
  std::vector<std::string> artifact_peers;
  std::optional<HealthSpec> health;  // none: the type has no check (healthy once running)
  // SIGTERM, then this long before SIGKILL (the manifest's deploy.stop_grace); 0: the
  // supervisor's own default (CorePolicy::stop_grace). Absent in older leaders' JSON.
  int64_t stop_grace_ms = 0;
  // The app's metrics path (manifest metrics_path), scraped on PORT (app_metrics.h); empty:
  // none. Absent in older leaders' JSON.
  std::string metrics_path;

  bool operator==(const InstanceSpec&) const = default;
};

struct Assignment {
  std::string app;
  uint64_t group = 0;
  uint64_t term = 0;
  std::string leader;
  std::vector<InstanceSpec> instances;

  bool operator==(const Assignment&) const = default;
};

enum class InstanceState : uint8_t {
  pending, starting, running, backoff, crashed, stopping, stopped, failed
};
std::string_view state_name(InstanceState s);
Result<InstanceState> parse_state(std::string_view name);

// What an instance's cgroup used (docs/supervisor.md, "Resource use"), sampled by the
// supervisor about every second. -1: unknown (no cgroup, or the host lacks the controller).
struct ResourceUsage {
  int64_t sampled_ms = 0;    // wall clock of the sample
  int64_t window_ms = 0;     // the CPU rate's window: since the previous sample
  int64_t cpu_millis = -1;   // CPU used over the window, 1000 = one core busy throughout
  double cpu_percent = -1;   // cpu_millis as % of the instance's cpu_millis limit (else of a core)
  int64_t memory_bytes = -1;
  int64_t rss_bytes = -1;
  int64_t oom_kills = 0;     // OOM kills in this run of the instance
  int64_t nr_throttled = -1; // CFS periods in which the CPU quota throttled it, this run

  bool operator==(const ResourceUsage&) const = default;
};

struct InstanceStatus {
  std::string id;
  std::string type;
  InstanceState state = InstanceState::pending;
  int pid = 0;  // the app's process (the `sh -c`), 0 when none
  int port = 0;
  int restarts = 0;
  int64_t generation = 0;
  int64_t since_ms = 0;  // wall clock of the last state change
  std::string message;
  std::string health = "none";  // none | starting | healthy | unhealthy (health_core.h)
  std::string health_output;    // the last check's reason / output, trimmed
  std::optional<ResourceUsage> usage;  // running instances with a cgroup, once sampled
};

struct AssignReport {
  std::string node;
  std::vector<InstanceStatus> instances;
};

Result<Assignment> parse_assignment(std::string_view body);
Result<Assignment> assignment_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Assignment& a);
nlohmann::json to_json(const InstanceSpec& s);
nlohmann::json to_json(const HealthSpec& h);
Result<HealthSpec> health_spec_from_json(const nlohmann::json& j);
Result<InstanceSpec> instance_spec_from_json(const nlohmann::json& j);
nlohmann::json to_json(const InstanceStatus& s);
nlohmann::json to_json(const ResourceUsage& u);
Result<ResourceUsage> resource_usage_from_json(const nlohmann::json& j);
nlohmann::json to_json(const AssignReport& r);
Result<AssignReport> parse_assign_report(std::string_view body);

// Names that become path components.
bool valid_app_name(std::string_view name);     // DNS label: [a-z0-9-], 1..63, no edge '-'
bool valid_instance_id(std::string_view id);    // [a-z0-9._-], 1..100, not "." or ".."

}  // namespace shoal::node::supervisor
