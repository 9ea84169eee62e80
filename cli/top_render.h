// cli/top_render.h
//
// What `shoal top` and `shoal nodes` print (docs/reporting.md): the cluster's nodes with
// their capacity, use and roles (GET /v1/nodes), and every app and instance with what they
// use (GET /v1/metrics/apps). CPU of an app or instance is in % of one core, as top(1)
// counts; a node's CPU is in % of all its cores. Missing numbers print as "-".
//
// Contract: pure functions, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace shoal::cli {

// GET /v1/nodes: Name, Status, CPU, Memory (used / total), Agent (its RSS), Instances,
// Roles ("catalog leader, leads blog shop").
std::string render_nodes_table(const nlohmann::json& nodes);
// GET /v1/metrics/apps: an Apps table (App, Instances, Running, CPU, Memory, Restarts) and
// an Instances table (App, Instance, Node, State, CPU, Limit, Memory, Restarts), and a line
// per node that did not answer.
std::string render_usage_tables(const nlohmann::json& usage);

}  // namespace shoal::cli
