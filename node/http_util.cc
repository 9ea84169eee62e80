#include "node/http_util.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace shoal::node {

using nlohmann::json;

int http_status(const Status& s) {
  switch (s.code()) {
    case Status::Code::ok: return 200;
    case Status::Code::invalid_argument: return 400;
    case Status::Code::not_found: return 404;
    case Status::Code::permission_denied: return 403;
    case Status::Code::unauthenticated: return 401;
    case Status::Code::resource_exhausted: return 429;
    case Status::Code::already_exists:
    case Status::Code::failed_precondition: return 409;
    case Status::Code::unavailable:
    case Status::Code::timeout: return 503;
    case Status::Code::corruption:
    case Status::Code::io_error:
    case Status::Code::internal: return 500;
  }
  return 500;
}

void reply_json(HttpResponder& r, int status, const json& body) {
  r.reply(status, body.dump() + "\n", "application/json", {});
}

void reply_status(HttpResponder& r, const Status& s) {
  const int code = http_status(s);
  if (code >= 500) spdlog::warn("http-error status={} reason=\"{}\"", code, s.to_string());
  reply_error(r, code, s.message());
}

Result<json> parse_body(const HttpRequest& req, bool allow_empty) {
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    if (allow_empty) return json::object();
    return Status::invalid_argument("request body is empty; expected a JSON object");
  }
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::parse_error& e) {
    return Status::invalid_argument(std::string("request body is not valid JSON: ") + e.what());
  }
  if (!body.is_object()) {
    return Status::invalid_argument(std::string("request body must be a JSON object, not ") +
                                    body.type_name());
  }
  return body;
}

Status check_fields(const json& body, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : body.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return Status::invalid_argument("unknown field '" + key + "' (known: " +
                                      (list.empty() ? "none" : list) + ")");
    }
  }
  return Status();
}

Status check_query(const HttpRequest& req, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : req.query) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Status::invalid_argument("unknown query parameter '" + key + "'");
    }
  }
  return Status();
}

Result<bool> optional_bool(const json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) {
    return Status::invalid_argument(std::string("field '") + field + "' must be a boolean, not " +
                                    it->type_name());
  }
  return it->get<bool>();
}

}  // namespace shoal::node
