// node/apps/app_views.h
//
// The JSON the /v1/apps API answers with (docs/apps.md), rendered from an AppState copy.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "node/apps/app_state.h"

namespace shoal::node::apps {

nlohmann::json formation_json(const AppState& app);
// GET /v1/apps/{app}: name, release, formation, stopped, instance counts.
nlohmann::json info_json(const AppState& app);
// GET /v1/apps/{app}/ps.
nlohmann::json ps_json(const AppState& app);
// GET /v1/apps/{app}/releases (newest first).
nlohmann::json releases_json(const AppState& app);
// Running and total desired instances.
std::pair<size_t, size_t> instance_counts(const AppState& app);

}  // namespace shoal::node::apps
