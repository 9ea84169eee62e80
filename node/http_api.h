// node/http_api.h
//
// HttpApi: the node's one way in — the /v1 HTTP/JSON API (docs/api.md) on HttpServer.
//
// Each area of the API adds its routes with an add_*_routes() function in its own file;
// HttpApi::start() registers them all. Handlers run on the server's worker threads and
// reach the agent only through AgentControl (which posts onto the agent's loop and waits,
// bounded); they never touch the gossip core.
//
// Contract:
//  - Every error is JSON {"error": "..."} naming the problem, with the status that fits:
//    400 bad input (bad JSON names the parse error), 404 unknown path or node, 405 known
//    path with the wrong method (with an Allow header), 413 body over the limit, 502 when
//    no peer of a join answered, 503 when the agent is leaving, stopped or too slow.
//  - start() binds before returning (io_error naming the address if it cannot); stop()
//    (or the destructor) closes the listener and waits for in-flight handlers.
//  - `agent` must outlive the HttpApi.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "gossip/address.h"
#include "node/agent_control.h"
#include "node/api_auth.h"
#include "node/http_server.h"
#include "node/router/tls_pem.h"

namespace shoal::node {

class RaftService;
namespace tls {
class ApiTlsListener;
}

// Routes under this prefix are node-to-node only: served on --rpc, never on --http.
inline constexpr std::string_view kInternalPrefix = "/v1/internal/";

// GET /v1/members, /v1/agent/self, /v1/health, /v1/events; POST /v1/join, /v1/leave,
// /v1/force-leave; PUT /v1/agent/tags. `tls_fingerprint`: the API's, shown by
// /v1/agent/self when it speaks TLS ("" : it does not).
void add_membership_routes(HttpRouter& router, AgentControl& agent,
                           std::string tls_fingerprint = {});
// POST /v1/event/{name}, POST /v1/query/{name} (NDJSON stream), GET /v1/agent/events
// (Server-Sent Events), GET /v1/agent/monitor (log stream). node/http_api_events.cc.
void add_event_routes(HttpRouter& router, AgentControl& agent);
// GET /v1/keys; POST /v1/keys/install, /v1/keys/use, /v1/keys/remove: the gossip keyring
// of every member, through serf's keyring queries. node/http_api_keys.cc.
void add_key_routes(HttpRouter& router, AgentControl& agent);
// GET /metrics: the process's metrics registry (node/metrics.h) as Prometheus text.
// node/http_api_events_log.cc.
void add_metrics_routes(HttpRouter& router);
namespace router {
class Router;
}
// GET /v1/router/traffic: what this node's router served, per app and instance, since it
// started (`router` may be null: the node runs with --router off). node/http_api_router.cc.
void add_router_routes(HttpRouter& router, const router::Router* proxy, std::string node_name);

class HttpApi {
 public:
  // `raft`, when given, adds the /v1/raft routes (node/http_api_raft.h); it must outlive
  // the HttpApi.
  // `more_routes`, when given, adds the routes of other parts (the apps layer).
  // With `raft`, the same API is also served to peers on its --rpc port
  // (RaftService::set_http_handoff), and only there the /v1/internal/ routes: node-to-node
  // calls (assignments, artifact fetches, forwarding, log fan-out) never use --http.
  // `auth`, when given, turns on API authentication (node/api_auth.h) on both listeners.
  // `tls`, when given, makes --http speak TLS with that certificate (node/tls/); it needs
  // `auth`: an API reachable from the network is never open (failed_precondition).
  static Result<std::unique_ptr<HttpApi>> start(const gossip::Address& listen,
                                                AgentControl& agent,
                                                RaftService* raft = nullptr,
                                                const std::function<void(HttpRouter&)>& more_routes = {},
                                                const ApiAuthOptions* auth = nullptr,
                                                const router::TlsPem* tls = nullptr);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  gossip::Address address() const;
  void stop();

 private:
  HttpApi(std::unique_ptr<HttpServer> server, std::unique_ptr<tls::ApiTlsListener> tls,
          std::unique_ptr<HttpServer> peer_server, RaftService* raft);
  std::unique_ptr<HttpServer> server_;       // --http: users, the CLI, the UI
  std::unique_ptr<tls::ApiTlsListener> tls_;  // --http when it speaks TLS, feeding server_
  std::unique_ptr<HttpServer> peer_server_;  // connections handed over from --rpc
  RaftService* raft_;
};

}  // namespace shoal::node
