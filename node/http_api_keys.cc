// The cluster keyring's part of the /v1 API (docs/api.md, "The gossip keyring"): list,
// install, use and remove a gossip key on every member through serf's internal queries,
// answered with the per-node report. An operation some member failed (or did not answer)
// is 502 with the same report, so a client sees who failed and why.
#include <spdlog/spdlog.h>

#include "gossip/keyring.h"
#include "node/http_api.h"
#include "node/http_util.h"

namespace shoal::node {

using nlohmann::json;

namespace {

// Key bodies are tiny; anything larger is not a key.
constexpr size_t kKeyBodyLimit = 4 * 1024;

json report_json(gossip::KeyOp op, const gossip::KeyReport& r) {
  json out = {{"op", std::string(gossip::to_string(op))},
              {"num_nodes", r.num_nodes},
              {"num_responses", r.num_resp},
              {"num_errors", r.num_err},
              {"messages", r.messages},
              {"keys", r.keys},
              {"primary_keys", r.primary_keys}};
  if (Status s = r.status(); !s.ok()) out["error"] = s.message();
  return out;
}

void answer(HttpResponder& res, gossip::KeyOp op, const Result<gossip::KeyReport>& r) {
  if (!r.ok()) return reply_status(res, r.status());
  reply_json(res, r->status().ok() ? 200 : 502, report_json(op, *r));
}

void get_keys(AgentControl& agent, const HttpRequest& req, HttpResponder& res) {
  if (Status st = check_query(req, {}); !st.ok()) return reply_status(res, st);
  answer(res, gossip::KeyOp::list, agent.key_operation(gossip::KeyOp::list, {}));
}

// The body {"key": "BASE64"}: 32 bytes once decoded, as `serf keygen` and `shoal keygen`
// make them. Anything else is refused here, before any member is asked.
Result<Bytes> key_of_body(const HttpRequest& req) {
  auto body = parse_body(req, /*allow_empty=*/false);
  if (!body.ok()) return body.status();
  SHOAL_RETURN_IF_ERROR(check_fields(*body, {"key"}));
  auto it = body->find("key");
  if (it == body->end() || !it->is_string()) {
    return Status::invalid_argument(
        std::string("field 'key' must be a base64 string, not ") +
         (it == body->end() ? "missing" : it->type_name()));
  }
  auto key = gossip::key_from_base64(it->get<std::string>());
  if (!key.ok()) return key.status().with_context("field 'key'");
  return key;
}

void post_key(gossip::KeyOp op, AgentControl& agent, const HttpRequest& req,
              HttpResponder& res) {
  if (Status st = check_query(req, {}); !st.ok()) return reply_status(res, st);
  auto key = key_of_body(req);
  if (!key.ok()) return reply_status(res, key.status());
  answer(res, op, agent.key_operation(op, std::move(*key)));
}

}  // namespace

void add_key_routes(HttpRouter& router, AgentControl& agent) {
  AgentControl* a = &agent;
  router.add("GET", "/v1/keys", [a](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
    get_keys(*a, req, *res);
  });
  // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
  for (const auto& route : {std::pair{"/v1/keys/install", gossip::KeyOp::install},
                            std::pair{"/v1/keys/use", gossip::KeyOp::use},
                            std::pair{"/v1/keys/remove", gossip::KeyOp::remove}}) {
    const gossip::KeyOp op = route.second;
    router.add("POST", route.first,
               [a, op](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
                 post_key(op, *a, req, *res);
               },
               RouteOptions{kKeyBodyLimit});
  }
}

}  // namespace shoal::node
