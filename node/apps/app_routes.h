// node/apps/app_routes.h
//
// The sending end of the route channel (docs/router.md): what an app leader tells every
// node about where the app's HTTP traffic goes, and the fan-out that tells them.
//
//  - route_backends() is pure: the app's `web` instances that are desired (not unplaced,
//    so not being stopped: an instance leaves the routes before it is told to stop), up
//    (running, and healthy when its type has a check: a rolling deploy routes to a new
//    instance only once it passes its check), with a port, on a node that is alive (in
//    `node_hosts`, name -> gossip IP). A stopped app has none.
//  - send_routes() POSTs one push to every target at once, each call bounded by `timeout`,
//    and returns when all have answered or timed out: one dead node delays nobody else.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "base/time.h"
#include "node/apps/app_state.h"
#include "node/router/route_store.h"

namespace shoal::node::apps {

inline constexpr const char* kWebType = "web";

std::vector<router::Backend> route_backends(const AppState& app,
                                            const std::map<std::string, std::string>& node_hosts);

// "IP:PORT" or "[IPv6]:PORT" -> the IP ("" when there is no port).
std::string host_of(const std::string& addr);

struct RouteTarget {
  std::string node;
  std::string rpc;  // its --rpc address
};

struct RouteAnswer {
  std::string node;
  Status status;        // transport failure, or the node's refusal
  bool fenced = false;  // the node has seen a newer term of the group (409)
  nlohmann::json body;  // the node's answer when it took the push
};

std::vector<RouteAnswer> send_routes(const router::RoutePush& push,
                                     const std::vector<RouteTarget>& targets, Duration timeout);

}  // namespace shoal::node::apps
