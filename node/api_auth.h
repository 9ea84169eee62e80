// node/api_auth.h
//
// Who may call what on the HTTP API (docs/security.md), decided in one place:
//  - apply_access_policy() sets the access of every route that differs from the default
//    (GET and HEAD need `read`, everything else `admin`): the dashboard's files are open,
//    /v1/health and /metrics open unless configured otherwise, an app's writes (and its
//    config, which holds secrets) need deploy:APP, the gossip keyring needs admin.
//  - make_authorizer() checks each request's bearer token against the node's TokenStore,
//    counts and logs refusals, and logs every write with who made it (an `audit` line).
#pragma once

#include <functional>
#include <memory>

#include "base/status.h"
#include "node/auth/failure_limiter.h"
#include "node/auth/token_store.h"
#include "node/http_server.h"

namespace shoal::node {

struct ApiAuthOptions {
  std::shared_ptr<const auth::TokenStore> tokens;  // required
  bool open_health = true;   // GET /v1/health without a token
  bool open_metrics = true;  // GET /metrics without a token (Prometheus can send one too)
  // Failed authentications per client address on the --http listener (429 past it).
  auth::FailureLimiter::Options failure_limit;
};

void apply_access_policy(HttpRouter& router, const ApiAuthOptions& options);

// For the --http listener: every request that is not to an open route needs a token.
// `peer`: for the node-to-node listener, where a request without Authorization is a node's
// own call, and one with it a user's request forwarded by another node, which keeps the
// caller's identity and is checked here again. Nothing reaches that listener without the
// cluster secret (the --rpc channel, docs/security.md "Node to node"): that is what lets
// it take a call without a token as a node's own.
//
// `limiter` (the --http listener's; null for the peer listener, whose callers are nodes):
// an address past its failures (wrong tokens; asking without one is not a failure) is
// refused with resource_exhausted (429, Retry-After) before its token is looked at.
std::function<Status(HttpRequest&, const RouteOptions&)> make_authorizer(
    std::shared_ptr<const auth::TokenStore> tokens, bool peer,
    std::shared_ptr<auth::FailureLimiter> limiter = nullptr);

}  // namespace shoal::node
