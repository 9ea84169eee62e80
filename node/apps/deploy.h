// node/apps/deploy.h
//
// A deploy, as the node the CLI uploaded to runs it (docs/apps.md, "Deploy progress
// stream"): check the upload (a tar.gz unpacked safely, or a single executable) and its
// manifest, store it, create the app on its first deploy, build the slug if the manifest
// asks, hand the release to the app's leader, and follow the rollout until the release's
// instances run or one fails.
//
// Contract:
//  - Refusals before anything is stored (bad name, empty body, hostile archive, bad
//    manifest) are plain 4xx JSON errors. After that the answer is a 200 NDJSON stream that
//    ends with exactly one `done` or `error` event.
//  - A failed build or a release whose instances crash leaves the previous release running
//    (the scheduler only stops old instances once new ones are up). When the app leader then
//    rolls the release back (auto_rollback.h), the stream sends a `rollback` event and ends
//    with an `error` giving the reason; it waits for that at most 20 s after the failure.
//  - Runs on the HTTP worker that received it; stops following when the client goes away.
#pragma once

#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "node/http_server.h"

namespace shoal::node {
class ArtifactStore;
}

namespace shoal::node::apps {

class AppService;

struct DeployOptions {
  std::filesystem::path work_dir;  // DATA_DIR/tmp: uploads and builds in progress
  Duration build_timeout = std::chrono::minutes(15);
  Duration rollout_timeout = std::chrono::minutes(3);
};

void handle_deploy(AppService& apps, ArtifactStore& store, const DeployOptions& options,
                   const HttpRequest& req, const std::shared_ptr<HttpResponder>& res);

// The leader's side of a new release (POST /v1/internal/apps/{app}/releases and a deploy
// that lands on the leader): body {"digest", "source_digest", "manifest", "description",
// "commit"?}; the result's {"release": N}.
Result<nlohmann::json> add_release_here(AppService& apps, uint64_t group,
                                        const nlohmann::json& body);

}  // namespace shoal::node::apps
