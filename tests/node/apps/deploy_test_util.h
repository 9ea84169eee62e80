// Helpers for the tests of node/apps that need an app with releases.
#pragma once

#include <catch2/catch.hpp>

#include "node/apps/app_state.h"
#include "node/apps/manifest.h"
#include "tests/node/apps/apps_test_util.h"

namespace shoal::node::apps::test {

inline std::string digest(char c) { return std::string(64, c); }

inline nlohmann::json manifest_json(std::string_view procfile, std::string_view toml = "") {
  auto m = parse_manifest(procfile, toml);
  REQUIRE(m.ok());
  return to_json(*m);
}

// A deploy of `procfile` (+ shoal.toml) whose slug digest is 64 times `d`.
inline uint64_t deploy(AppState& app, std::string_view procfile, std::string_view toml = "",
                       char d = 'a') {
  auto r =
      run(app, AppState::add_release(digest(d), "", manifest_json(procfile, toml), "deploy", 1));
  REQUIRE(r.ok());
  return r.body["release"].get<uint64_t>();
}

}  // namespace shoal::node::apps::test
