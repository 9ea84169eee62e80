// node/apps/detect.h
//
// What kind of app a source directory is, for one that has no Procfile (as buildpacks
// detect): the build command it gets when shoal.toml names none, and the `web` command it
// runs. shoal.toml's `build` and a Procfile override both (docs/apps.md, "Detected apps").
//
//   python   requirements.txt or pyproject.toml: a virtualenv in .venv with the
//            dependencies; web runs app.py, main.py or server.py with it
//   node     package.json: npm ci (npm install without a lockfile); web is npm start
//   go       go.mod: go build; web runs the binary
//   static   index.html: served as files by python3 -m http.server
//
// The first rule that matches wins, in that order. A single executable (no rule matches)
// is load_manifest()'s own case. Dependency caches: the build gets PIP_CACHE_DIR,
// npm_config_cache, GOCACHE and GOMODCACHE in a directory kept per app (builder.h).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "base/status.h"

namespace shoal::node::apps {

struct Detection {
  std::string kind;    // python, node, go, static
  std::string reason;  // the file that decided it: "requirements.txt"
  std::string build;   // "" when the kind needs none
  std::string web;     // the web process's command
};

// nullopt: no rule matches. An error: a rule matched but no web command follows (a Python
// app with none of app.py, main.py, server.py), naming what to add.
Result<std::optional<Detection>> detect_app(const std::filesystem::path& dir);

}  // namespace shoal::node::apps
