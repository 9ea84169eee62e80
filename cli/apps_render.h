// cli/apps_render.h
//
// What the apps verbs print for the /v1/apps answers (docs/apps.md), as text for people:
// tables through node/text_table.h, one "Key: value" block for `shoal info`. Missing or
// odd fields print as "" or "-" rather than failing: the JSON is the agent's, and
// `--format json` shows it whole.
//
// Contract: pure functions, thread-safe. Times are rendered against `now_ms` (ages) or in
// UTC, so output does not depend on the machine.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace shoal::cli {

// GET /v1/apps: Name, Release (v3), Instances (running/total).
std::string render_apps_table(const nlohmann::json& answer);
// GET /v1/apps/{app}: name, group, leader, replicas, release, state, then the formation.
std::string render_app_info(const nlohmann::json& answer);
// A formation object {"web": {"count", "memory_mb", "cpu_millis"}} (or {"web": 3}): Type,
// Count, Memory, CPU.
std::string render_formation_table(const nlohmann::json& formation);
// GET /v1/apps/{app}/ps: ID, Type, Node, Release, State, Health, CPU (% of the limit), Mem,
// Port, Restarts, Since (an age); then, for instances not running, "ID: message" lines.
std::string render_ps_table(const nlohmann::json& answer, int64_t now_ms);
// GET /v1/apps/{app}/releases: current marked "*", Version, Description, Digest, Created.
std::string render_releases_table(const nlohmann::json& answer);
// GET /v1/apps/{app}/config: KEY=VALUE lines, sorted (as `env` prints them).
std::string render_config(const nlohmann::json& answer);

// A JSON scalar as text: strings bare, null/absent "", others as JSON.
std::string json_text(const nlohmann::json& object, const char* key);

}  // namespace shoal::cli
