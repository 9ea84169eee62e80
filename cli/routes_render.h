// cli/routes_render.h
//
// What `shoal routes` and `shoal domains` print (docs/router.md): the route table of the
// agent asked, and an app's custom domains. Missing or odd fields print as "" or "-"; the
// JSON is the agent's, and `--format json` shows it whole.
//
// Contract: pure functions, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace shoal::cli {

// GET /v1/routes: App, Hosts (APP.DOMAIN, then the custom domains), Backends
// (INSTANCE@NODE HOST:PORT, one line each; "-" when none), Age (since the app leader's
// last push). An app with instances on down nodes says so in a line "(N on down nodes)".
std::string render_routes_table(const nlohmann::json& answer);
// GET /v1/apps/{app}/domains: one host per line, or a line saying there is none.
std::string render_domains(const nlohmann::json& answer);

}  // namespace shoal::cli
