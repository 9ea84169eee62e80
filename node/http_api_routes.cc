// The routing mesh's HTTP side (docs/router.md, docs/api.md):
//  - POST /v1/internal/routes: an app leader's push into this node's RouteStore;
//  - GET /v1/routes: this node's route table, as its router sees it;
//  - GET/POST/DELETE /v1/apps/{app}/domains[/{host}]: custom domains and their TLS
//    certificates, kept in the catalog (writes go to the catalog's leader, http_api_owner.h).
//    A certificate and key are checked here (node/router/tls.h) before they are proposed;
//    a private key is never in an answer.
#include <spdlog/spdlog.h>

#include <optional>

#include "node/apps/app_service.h"
#include "node/apps/catalog_state.h"
#include "node/apps/group_ids.h"
#include "node/apps/names.h"
#include "node/http_api_owner.h"
#include "node/http_server.h"
#include "node/http_util.h"
#include "node/router/route_store.h"
#include "node/router/tls.h"

namespace shoal::node {

using nlohmann::json;

namespace {

void internal_routes(apps::AppService& svc, router::RouteStore& routes, const HttpRequest& req,
                     HttpResponder& res) {
  auto body = parse_body(req, false);
  if (!body.ok()) return reply_status(res, body.status());
  auto push = router::parse_route_push(*body);
  if (!push.ok()) return reply_status(res, push.status());
  const auto outcome = routes.apply(*push);
  if (outcome == router::RouteStore::Outcome::fenced) {
    return reply_json(res, 409,
                      {{"error", "routes of app '" + push->app +
                                     "' from a newer term or group were seen here"},
                       {"node", svc.self()}});
  }
  if (outcome == router::RouteStore::Outcome::applied) {
    spdlog::debug("routes-applied app={} version={} backends={}", push->app, push->version,
                  push->backends.size());
  }
  json answer = {{"node", svc.self()}, {"outcome", router::to_string(outcome)}};
  // This node's router's request count for the app: the leader's autoscaler sums them.
  if (auto n = routes.requests(push->app)) answer["requests"] = *n;
  reply_json(res, 200, answer);
}

void list_routes(apps::AppService& svc, router::RouteStore& routes, const HttpRequest& req,
                 HttpResponder& res) {
  if (Status s = check_query(req, {}); !s.ok()) return reply_status(res, s);
  json j = routes.to_json();
  j["node"] = svc.self();
  reply_json(res, 200, j);
}

void list_domains(apps::AppService& svc, const HttpRequest& req, HttpResponder& res) {
  const std::string& app = req.params.at("app");
  if (Status s = apps::validate_app_name(app); !s.ok()) return reply_status(res, s);
  auto cat = svc.catalog();
  if (!cat.ok()) return reply_status(res, cat.status());
  const apps::AppRecord* rec = (*cat)->app(app);
  if (!rec) return reply_status(res, Status::not_found("no app '" + app + "'"));
  json tls = json::object();
  for (const auto& [host, pair] : rec->tls) {
    auto info = router::inspect_tls(router::TlsPem{pair.cert, pair.key});
    if (!info.ok()) {
      tls[host] = {{"error", info.status().message()}};
      continue;
    }
    tls[host] = {
        {"names", info->names}, {"not_after", info->not_after}, {"expired", info->expired}};
  }
  reply_json(res, 200, {{"app", app}, {"domains", rec->domains}, {"tls", std::move(tls)}});
}

// add_domain / remove_domain on the catalog's leader (here, or forwarded there).
void change_domain(apps::AppService& svc, const HttpRequest& req,
                   const std::shared_ptr<HttpResponder>& res, bool add) {
  const std::string& app = req.params.at("app");
  if (Status s = apps::validate_app_name(app); !s.ok()) return reply_status(*res, s);
  std::string host;
  std::optional<apps::DomainTls> tls;
  if (add) {
    auto body = parse_body(req, false);
    if (!body.ok()) return reply_status(*res, body.status());
    if (Status s = check_fields(*body, {"host", "cert", "key"}); !s.ok()) {
      return reply_status(*res, s);
    }
    if (!body->contains("host") || !(*body)["host"].is_string()) {
      return reply_status(*res, Status::invalid_argument("'host' must be a host name"));
    }
    host = (*body)["host"];
    const bool has_cert = body->contains("cert"), has_key = body->contains("key");
    if (has_cert != has_key) {
      return reply_status(*res, Status::invalid_argument(
                                    "'cert' and 'key' go together: give both or neither"));
    }
    if (has_cert) {
      if (!(*body)["cert"].is_string() || !(*body)["key"].is_string()) {
        return reply_status(*res, Status::invalid_argument("'cert' and 'key' must be PEM text"));
      }
      tls = apps::DomainTls{(*body)["cert"].get<std::string>(),
                            (*body)["key"].get<std::string>()};
    }
  } else {
    host = req.params.at("host");
  }
  auto normal = apps::normalize_domain(host);
  if (!normal.ok()) return reply_status(*res, normal.status());
  if (tls) {
    auto info = router::inspect_tls(router::TlsPem{tls->cert, tls->key}, *normal);
    if (!info.ok()) return reply_status(*res, info.status().with_context("TLS for " + *normal));
    if (info->expired) {
      return reply_status(*res, Status::invalid_argument("TLS for " + *normal +
                                                         ": the certificate expired on " +
                                                         info->not_after));
    }
  }
  if (forward_to_catalog_leader(svc, req, res)) return;
  auto r = svc.propose(apps::kCatalogGroup,
                       add ? apps::CatalogState::add_domain(app, *normal, tls ? &*tls : nullptr)
                           : apps::CatalogState::remove_domain(app, *normal));
  if (!r.ok()) return reply_status(*res, r.status());
  if (!r->ok()) return reply_status(*res, r->status);
  spdlog::info("{} app={} host={} tls={}", add ? "domain-added" : "domain-removed", app, *normal,
               tls.has_value());
  svc.kick();
  reply_json(*res, 200,
             {{"app", app},
              {"host", *normal},
              {"tls", tls.has_value()},
              {"domains", r->body.value("domains", json::array())}});
}

}  // namespace

void add_route_routes(HttpRouter& router, apps::AppService& svc, router::RouteStore& routes) {
  apps::AppService* s = &svc;
  router::RouteStore* rs = &routes;
  router.add("POST", "/v1/internal/routes",
             [s, rs](const HttpRequest& q, std::shared_ptr<HttpResponder> r) {
               internal_routes(*s, *rs, q, *r);
             });
  router.add("GET", "/v1/routes", [s, rs](const HttpRequest& q, std::shared_ptr<HttpResponder> r) {
    list_routes(*s, *rs, q, *r);
  });
  router.add("GET", "/v1/apps/{app}/domains",
             [s](const HttpRequest& q, std::shared_ptr<HttpResponder> r) { list_domains(*s, q, *r); });
  router.add("POST", "/v1/apps/{app}/domains",
             [s](const HttpRequest& q, std::shared_ptr<HttpResponder> r) {
               change_domain(*s, q, r, true);
             });
  router.add("DELETE", "/v1/apps/{app}/domains/{host}",
             [s](const HttpRequest& q, std::shared_ptr<HttpResponder> r) {
               change_domain(*s, q, r, false);
             });
}

}  // namespace shoal::node
