// node/http_util.h
//
// The small pieces every /v1 handler shares: JSON replies, Status -> HTTP status, and
// strict parsing of bodies and query strings (unknown fields and parameters are errors,
// so a typo is never silently ignored).
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string_view>

#include "base/status.h"
#include "node/http_server.h"

namespace shoal::node {

// 400 invalid_argument, 403 permission_denied, 404 not_found, 409 already_exists and
// failed_precondition, 503 unavailable and timeout, 500 the rest.
int http_status(const Status& s);

void reply_json(HttpResponder& r, int status, const nlohmann::json& body);
// The Status's message as {"error": ...} with http_status(s); 5xx are logged.
void reply_status(HttpResponder& r, const Status& s);

// The body as a JSON object; an empty body is {} when allowed. Errors name the problem.
Result<nlohmann::json> parse_body(const HttpRequest& req, bool allow_empty);
Status check_fields(const nlohmann::json& body, std::initializer_list<std::string_view> known);
Status check_query(const HttpRequest& req, std::initializer_list<std::string_view> known);
// A missing or null field is false.
Result<bool> optional_bool(const nlohmann::json& body, const char* field);

}  // namespace shoal::node
