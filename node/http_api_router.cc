// GET /v1/router/traffic (docs/api.md): this node's router counters, per app and instance.
// /metrics has the per-app totals (node/router/router_metrics.h); instance ids change with
// every deploy, so the per-instance view lives here, where nothing accumulates.
#include "node/http_api.h"
#include "node/http_server.h"
#include "node/http_util.h"
#include "node/router/router.h"

namespace shoal::node {

using nlohmann::json;

namespace {

json traffic_json(const router::Traffic& t) {
  json by_status = json::object();
  for (const auto& [code, count] : t.by_status) by_status[std::to_string(code)] = count;
  return {{"requests", t.requests},
          {"by_status", by_status},
          {"bytes_in", t.bytes_in},
          {"bytes_out", t.bytes_out},
          {"in_flight", t.in_flight},
          {"mean_ms", t.requests ? t.latency_sum_s * 1000.0 / static_cast<double>(t.requests) : 0.0}};
}

}  // namespace

void add_router_routes(HttpRouter& router, const router::Router* proxy, std::string node_name) {
  router.add("GET", "/v1/router/traffic",
             [proxy, node_name](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               if (Status s = check_query(req, {}); !s.ok()) return reply_status(*res, s);
               if (proxy == nullptr) {
                 return reply_status(*res, Status::not_found("the router is off on node '" +
                                                             node_name + "' (--router off)"));
               }
               json apps = json::array();
               for (const auto& app : proxy->traffic()) {
                 json j = traffic_json(app.total);
                 j["app"] = app.app;
                 json instances = json::array();
                 for (const auto& [id, t] : app.by_instance) {
                   json i = traffic_json(t);
                   i["instance"] = id;
                   instances.push_back(std::move(i));
                 }
                 j["instances"] = std::move(instances);
                 apps.push_back(std::move(j));
               }
               const auto tls = proxy->tls_address();
               reply_json(*res, 200,
                          {{"node", node_name},
                           {"router", proxy->address().to_string()},
                           {"router_tls", tls.valid() ? json(tls.to_string()) : json(nullptr)},
                           {"apps", std::move(apps)}});
             });
}

}  // namespace shoal::node
