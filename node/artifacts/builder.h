// node/artifacts/builder.h
//
// build_slug: the build step of a release (docs/apps.md). The source tarball is unpacked
// into a fresh directory, the manifest's build command runs there, and what it leaves is
// packed as the slug, the artifact every node then runs.
//
// Contract:
//  - Blocking; run it on a worker thread. The command runs as `/bin/sh -c` in the
//    unpacked source directory, stdout and stderr merged, each line handed to `on_line`
//    (calling thread, as it comes; a line longer than 4 KiB is handed over in pieces). Past
//    `timeout` its whole process group is killed.
//  - It runs with `env` and a fixed base (PATH, LANG, and HOME: a directory of the build's
//    own, not packed), never the agent's environment; with `uid` >= 0, as that uid and gid
//    (the app's, docs/supervisor.md "Isolation"), owning its directories, so a build can
//    read neither the agent's data dir nor its keys, as the app itself cannot.
//  - Success: the slug (everything the directory holds after the build, .shoalignore not
//    applied: it was applied when the source was packed) is put into the store; its digest
//    is returned. An empty build command builds nothing: the slug is the source (same
//    digest, built = false).
//  - Failure: failed_precondition "build command failed with exit code N" (or "... timed
//    out after ...", "... killed by signal N"), with the last lines of output after it;
//    nothing is kept (the work directory is removed, nothing is added to the store).
//    The source missing from the store is not_found; a source that is a single executable
//    cannot be built (invalid_argument).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "node/artifacts/archive.h"
#include "node/artifacts/artifact_store.h"

namespace shoal::node {

struct BuildResult {
  std::string slug_digest;
  bool built = false;  // false: no build command, the slug is the source
  Duration took{};
  uint64_t output_lines = 0;
};

Result<BuildResult> build_slug(ArtifactStore& store, const std::string& source_digest,
                               const std::string& build_command,
                               const std::vector<std::pair<std::string, std::string>>& env,
                               const std::filesystem::path& work_dir,
                               std::function<void(std::string_view line)> on_line,
                               Duration timeout, const ExtractLimits& limits = {},
                               int uid = -1, const std::filesystem::path& cache_dir = {});

}  // namespace shoal::node
