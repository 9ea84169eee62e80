// node/usage_views.h
//
// The cluster-wide views of resource use (docs/reporting.md): what GET /v1/nodes and
// GET /v1/metrics/apps[/APP] answer, merged from each node's own answer
// (GET /v1/internal/node, /v1/internal/usage). Pure: the caller fans out and hands over
// what came back, so a node that did not answer is named, never silently left out.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "gossip/events.h"

namespace shoal::node {

// One node's answer to a fan-out call: its JSON, or why there is none.
using NodeAnswers = std::map<std::string, Result<nlohmann::json>>;

// GET /v1/nodes: every member gossip knows (any status), each with what it said of itself
// when it answered (the caller asks the live Shoal nodes): {"nodes": [{"name", "addr", "status", "tags", "shoal",
// "capacity": {"cores", "memory_bytes"}, "usage": {...}, "instances": {"total", "by_state"},
// "roles": {...}} | ... "error"]}.
nlohmann::json nodes_view(const std::vector<gossip::Member>& members, const NodeAnswers& answers);

// GET /v1/metrics/apps/APP: the app's instances on every node, with the history each node
// keeps, and totals: {"app", "instances": [...], "totals": {"instances", "running",
// "cpu_millis", "memory_bytes", "restarts"}, "unreachable": [{"node", "error"}]}.
nlohmann::json app_usage_view(const std::string& app, const NodeAnswers& answers);

// GET /v1/metrics/apps: every app's totals, and every instance: {"apps": [{"app", ...totals}],
// "instances": [...], "unreachable": [...]}.
nlohmann::json apps_usage_view(const NodeAnswers& answers);

}  // namespace shoal::node
