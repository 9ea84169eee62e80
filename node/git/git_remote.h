// node/git/git_remote.h
//
// The git remote every node serves on its API listener (docs/git.md): `git push` of an app's
// branch to http(s)://NODE/git/APP.git deploys it, with the build and rollout shown in the
// pusher's terminal as `remote:` lines.
//
// Contract:
//  - Smart HTTP through `git http-backend` (CGI), pushes only: GET .../info/refs with
//    service=git-receive-pack and POST .../git-receive-pack. A fetch or clone is refused
//    (403): the source of truth is each release's artifact, and the repository here is a
//    cache of what was last pushed to this node.
//  - Authentication is an API token as the HTTP password (Basic; the user is not looked at),
//    with the deploy:APP scope; the 401 asks for Basic so git prompts or uses its
//    credential helper.
//  - A bare repository per app under `repos_dir`, made on the first push that reaches this
//    node, whose pre-receive hook runs `shoal git-hook pre-receive` (cli/git_hook_cmd.cc):
//    the hook deploys the pushed commit through this node's API with the pusher's token,
//    and the push is refused (the ref not moved) unless the deploy ends `done`.
//  - A push runs on the HTTP worker that received it, bounded by `push_timeout`, and stops
//    (its process group killed) when the pusher goes away.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "base/time.h"
#include "node/http_server.h"

namespace shoal::node::git {

// Where the hook reaches this node's own API.
struct LocalApi {
  std::string url;              // "http://127.0.0.1:8080" or "https://..."
  std::string tls_fingerprint;  // the API's key when it speaks TLS (SHA256:...)
};

struct GitRemoteOptions {
  std::filesystem::path repos_dir;     // DATA_DIR/git
  std::filesystem::path shoal_binary;  // what the hook runs
  std::function<LocalApi()> local_api;
  Duration push_timeout = std::chrono::minutes(30);
};

void add_git_routes(HttpRouter& router, GitRemoteOptions options);

// The pre-receive hook written into each repository.
std::string pre_receive_hook(const std::filesystem::path& shoal_binary);

}  // namespace shoal::node::git
