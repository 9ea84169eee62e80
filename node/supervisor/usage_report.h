// node/supervisor/usage_report.h
//
// What a node answers for its own resource use and its instances' (GET /v1/internal/usage,
// docs/reporting.md): every node answers for itself, and the node a user asks fans out and
// merges (GET /v1/nodes, GET /v1/metrics/apps/APP).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "node/supervisor/assignment.h"
#include "node/supervisor/host_usage.h"
#include "node/supervisor/usage_series.h"

namespace shoal::node::supervisor {

struct UsageQuery {
  std::string app;  // empty: every app's instances
  enum class History : uint8_t { none, recent, minutes };
  History history = History::none;
  int64_t since_ms = 0;  // wall clock: the oldest point wanted
  bool instance_history = true;  // false: the node's own history only (GET /v1/nodes)
};

// GET /v1/internal/usage's query: app=NAME, window=DURATION (up to 5m: recent samples;
// longer, up to 1h: minute points; absent: no history). invalid_argument naming the field.
Result<UsageQuery> parse_usage_query(const std::optional<std::string>& app,
                                     const std::optional<std::string>& window, int64_t now_ms);

struct InstanceUsage {
  std::string app;
  int64_t release = 0;
  InstanceStatus status;  // with its newest `usage`
  std::vector<UsagePoint> history;
};

struct NodeUsageReport {
  std::string node;
  std::optional<HostUsage> host;  // none until the first sample
  std::vector<UsagePoint> host_history;
  std::vector<InstanceUsage> instances;
};

nlohmann::json to_json(const UsagePoint& p);
nlohmann::json to_json(const HostUsage& u);
nlohmann::json to_json(const NodeUsageReport& r);

}  // namespace shoal::node::supervisor
