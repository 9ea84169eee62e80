// The /v1/tokens routes (docs/security.md) and the receiving end of the token channel.
//
//   POST   /v1/tokens {"scopes": ["deploy:web"], "name": "ci"}   admin
//          -> 201 {"id", "name", "scopes", "token"}: made on the catalog leader; the
//             token's text is in this answer and nowhere else. Creating and revoking
//             answer once the catalog leader has pushed the new table to every live node
//             (each push bounded by a second), so what the answer says holds everywhere.
//   GET    /v1/tokens                       admin: ids, names, scopes, who made them, when
//   DELETE /v1/tokens/{token}               admin: by id or name
//   GET    /v1/token                        any token: who the caller is
//   POST   /v1/internal/tokens              a catalog leader's push of the table
//   GET    /v1/internal/tokens              the table, from a node holding the catalog
#include <spdlog/spdlog.h>

#include "node/apps/app_service.h"
#include "node/apps/group_ids.h"
#include "node/http_api.h"
#include "node/http_api_owner.h"
#include "node/http_util.h"

namespace shoal::node {

using nlohmann::json;
using apps::AppService;

namespace {

std::string caller(const HttpRequest& req) {
  return req.identity.empty() ? "a node of the cluster" : req.identity;
}

void create_token(AppService& svc, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  auto body = parse_body(req, false);
  if (!body.ok()) return reply_status(*res, body.status());
  if (Status s = check_fields(*body, {"scopes", "name"}); !s.ok()) return reply_status(*res, s);
  std::vector<std::string> scopes;
  auto it = body->find("scopes");
  if (it == body->end() || !it->is_array()) {
    return reply_error(*res, 400, "field 'scopes' must be an array, e.g. [\"deploy:web\"]");
  }
  for (const auto& s : *it) {
    if (!s.is_string()) return reply_error(*res, 400, "field 'scopes' must hold strings");
    scopes.push_back(s.get<std::string>());
  }
  if (auto parsed = auth::parse_scopes(scopes); !parsed.ok()) {
    return reply_status(*res, parsed.status());
  }
  std::string name;
  if (auto n = body->find("name"); n != body->end()) {
    if (!n->is_string()) return reply_error(*res, 400, "field 'name' must be a string");
    name = n->get<std::string>();
  }
  if (forward_to_catalog_leader(svc, req, res)) return;
  const auth::TokenParts parts = auth::generate_token();
  apps::TokenRecord rec;
  rec.hash = auth::hash_secret(parts.secret);
  rec.scopes = scopes;
  rec.name = name;
  rec.created_ms = wall_now_ms();
  rec.created_by = caller(req);
  auto r = svc.propose(apps::kCatalogGroup, apps::catalog_add_token(parts.id, rec, false));
  if (!r.ok()) return reply_status(*res, r.status());
  if (!r->ok()) return reply_status(*res, r->status);
  svc.publish_tokens();  // answer once every live node knows the token
  spdlog::info("token-created id={} name=\"{}\" scopes=\"{}\" by=\"{}\"", parts.id, name,
               json(scopes).dump(), rec.created_by);
  reply_json(*res, 201,
             {{"id", parts.id}, {"name", name}, {"scopes", scopes},
              {"token", auth::token_text(parts)}});
}

void list_tokens(AppService& svc, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = check_query(req, {}); !s.ok()) return reply_status(*res, s);
  auto cat = svc.catalog();
  if (!cat.ok()) return reply_status(*res, cat.status());
  json out = json::array();
  for (const auto& [id, t] : (*cat)->tokens().tokens()) {
    out.push_back({{"id", id},
                   {"name", t.name},
                   {"scopes", t.scopes},
                   {"created_ms", t.created_ms},
                   {"created_by", t.created_by},
                   {"bootstrap", id == (*cat)->tokens().bootstrap_id()}});
  }
  reply_json(*res, 200, {{"tokens", std::move(out)}, {"version", (*cat)->tokens().version()}});
}

void revoke_token(AppService& svc, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  const std::string which = req.params.at("token");
  if (forward_to_catalog_leader(svc, req, res)) return;
  auto r = svc.propose(apps::kCatalogGroup,
                       apps::catalog_revoke_token(which, caller(req), wall_now_ms()));
  if (!r.ok()) return reply_status(*res, r.status());
  if (!r->ok()) return reply_status(*res, r->status);
  svc.publish_tokens();  // answer once every live node refuses it
  spdlog::info("token-revoked id={} by=\"{}\"", r->body.value("id", ""), caller(req));
  reply_json(*res, 200,
             {{"id", r->body.value("id", "")}, {"name", r->body.value("name", "")},
              {"revoked", true}});
}

void whoami(const auth::TokenStore& tokens, const HttpRequest& req,
            const std::shared_ptr<HttpResponder>& res) {
  auto who = tokens.authenticate(req.header("Authorization").value_or(""));
  if (!who.ok()) return reply_status(*res, who.status());
  json scopes = json::array();
  for (const auto& s : who->scopes) scopes.push_back(s.to_string());
  reply_json(*res, 200, {{"id", who->id}, {"name", who->name}, {"scopes", std::move(scopes)}});
}

void take_push(auth::TokenStore& tokens, const HttpRequest& req,
               const std::shared_ptr<HttpResponder>& res) {
  auto body = parse_body(req, false);
  if (!body.ok()) return reply_status(*res, body.status());
  auto table = apps::CatalogTokens::table_from_json(*body);
  if (!table.ok()) return reply_status(*res, table.status());
  if (tokens.update(table->first, std::move(table->second))) {
    spdlog::debug("tokens-updated version={}", tokens.version());
  }
  reply_json(*res, 200, {{"version", tokens.version()}});
}

void give_table(AppService& svc, const std::shared_ptr<HttpResponder>& res) {
  if (!svc.holds_catalog()) {
    return reply_status(*res, Status::not_found("this node holds no replica of the catalog"));
  }
  auto cat = svc.catalog();
  if (!cat.ok()) return reply_status(*res, cat.status());
  reply_json(*res, 200, (*cat)->tokens().table_json());
}

}  // namespace

void add_token_routes(HttpRouter& router, AppService& svc, std::shared_ptr<auth::TokenStore> tokens) {
  AppService* s = &svc;
  router.add("POST", "/v1/tokens", [s](const HttpRequest& q, std::shared_ptr<HttpResponder> r) {
    create_token(*s, q, r);
  });
  router.add("GET", "/v1/tokens", [s](const HttpRequest& q, std::shared_ptr<HttpResponder> r) {
    list_tokens(*s, q, r);
  });
  router.add("DELETE", "/v1/tokens/{token}",
             [s](const HttpRequest& q, std::shared_ptr<HttpResponder> r) { revoke_token(*s, q, r); });
  router.add("GET", "/v1/token", [tokens](const HttpRequest& q, std::shared_ptr<HttpResponder> r) {
    whoami(*tokens, q, r);
  });
  router.add("POST", "/v1/internal/tokens",
             [tokens](const HttpRequest& q, std::shared_ptr<HttpResponder> r) {
               take_push(*tokens, q, r);
             });
  router.add("GET", "/v1/internal/tokens",
             [s](const HttpRequest&, std::shared_ptr<HttpResponder> r) { give_table(*s, r); });
}

}  // namespace shoal::node
