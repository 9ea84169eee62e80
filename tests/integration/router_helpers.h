// tests/integration/router_helpers.h
//
// Requests through a node's router (by Host) and what its route table says, for the
// tests that check an app keeps serving through the routing mesh (router, git push).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "node/http_client.h"
#include "tests/integration/apps_cluster.h"
#include "tests/integration/request_loop.h"

namespace shoal::test {

inline Result<node::HttpResponse> via_router(AgentProcess& node, const std::string& host,
                                      const std::string& path = "/",
                                      const std::string& accept = "") {
  node::HttpExchange ex;
  ex.target = path;
  ex.timeout = 5s;
  ex.headers.emplace("Host", host);
  if (!accept.empty()) ex.headers.emplace("Accept", accept);
  return node::http_request("127.0.0.1", node.router_port(), ex);
}

// The app's backends in a node's GET /v1/routes (0 when it does not know the app).
inline size_t routed_backends(AgentProcess& node, const std::string& app) {
  const json r = app_routes(node, app);
  return r.is_object() ? r.value("backends", json::array()).size() : 0;
}

// The nodes of the app's backends in a node's GET /v1/routes.
inline std::set<std::string> routed_nodes(AgentProcess& node, const std::string& app) {
  std::set<std::string> out;
  const json r = app_routes(node, app);
  if (!r.is_object()) return out;
  const json backends = r.value("backends", json::array());
  for (const auto& b : backends) out.insert(b.value("node", ""));
  return out;
}

inline std::vector<json> web_up(const json& ps) {
  std::vector<json> out;
  for (const auto& i : running(ps)) {
    const std::string health = i.value("health", "none");
    if (i.value("type", "") == "web" && (health == "none" || health == "healthy")) {
      out.push_back(i);
    }
  }
  return out;
}

// One GET of `host` through `via`'s router per round: at most one request is in flight when
// an instance dies.
inline RequestLoop::Round through_router(AgentProcess& via, std::string host) {
  return [&via, host = std::move(host)](const RequestLoop::Record& record) {
    record("", via_router(via, host));
  };
}

}  // namespace shoal::test
