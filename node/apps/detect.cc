#include "node/apps/detect.h"

namespace shoal::node::apps {

namespace fs = std::filesystem;

namespace {

bool has_file(const fs::path& dir, const char* name) {
  std::error_code ec;
  return fs::is_regular_file(fs::symlink_status(dir / name, ec));
}

}  // namespace

Result<std::optional<Detection>> detect_app(const fs::path& dir) {
  for (const char* marker : {"requirements.txt", "pyproject.toml"}) {
    if (!has_file(dir, marker)) continue;
    Detection d{"python", marker, "", ""};
    // --copies: a release keeps no symlink that leaves it (archive.h), so the venv's python
    // is a copy, which finds its .venv (pyvenv.cfg beside it) wherever the release is
    // unpacked; the absolute paths in .venv/bin's scripts would not, so they are not used.
    d.build = "python3 -m venv --copies .venv && .venv/bin/python -m pip install "
              "--disable-pip-version-check --no-input " +
              std::string(marker == std::string("requirements.txt") ? "-r requirements.txt"
                                                                    : "--no-build-isolation .");
    for (const char* entry : {"app.py", "main.py", "server.py"}) {
      if (has_file(dir, entry)) {
        d.web = std::string("exec .venv/bin/python ") + entry;
        return std::optional<Detection>(d);
      }
    }
    return Status::invalid_argument(
        std::string("a Python app (") + marker +
        ") with no Procfile and none of app.py, main.py, server.py to run: add a Procfile "
        "(web: COMMAND)");
  }
  if (has_file(dir, "package.json")) {
    return std::optional<Detection>(Detection{
        "node", "package.json",
        has_file(dir, "package-lock.json") ? "npm ci --no-audit --no-fund"
                                           : "npm install --no-audit --no-fund",
        "exec npm start"});
  }
  if (has_file(dir, "go.mod")) {
    return std::optional<Detection>(
        Detection{"go", "go.mod", "go build -o .shoal-web .", "exec ./.shoal-web"});
  }
  if (has_file(dir, "index.html")) {
    return std::optional<Detection>(Detection{
        "static", "index.html", "", "exec python3 -m http.server \"$PORT\" --bind 127.0.0.1"});
  }
  return std::optional<Detection>();
}

}  // namespace shoal::node::apps
