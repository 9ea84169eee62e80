// node/router/proxy_headers.cc
#include "node/router/proxy_headers.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/container/small_vector.hpp>

#include <string>

namespace shoal::node::router {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

beast::string_view bsv(std::string_view s) { return {s.data(), s.size()}; }

bool framing_field(beast::string_view name) {
  return beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding") ||
         beast::iequals(name, "host");
}

bool has_token(beast::string_view list, beast::string_view token) {
  for (const auto& t : http::token_list(list)) {
    if (beast::iequals(t, token)) return true;
  }
  return false;
}

}  // namespace

void strip_hop_by_hop(Fields& fields, bool keep_upgrade) {
  // The names Connection lists are collected first (erasing while walking the fields could
  // remove the end of the walk); they point into its value, which is erased last.
  boost::container::small_vector<beast::string_view, 8> named;
  auto range = fields.equal_range(http::field::connection);
  for (auto it = range.first; it != range.second; ++it) {
    for (const auto& t : http::token_list(it->value())) {
      if (framing_field(t)) continue;  // never let a client unframe the message
      if (keep_upgrade && beast::iequals(t, "upgrade")) continue;
      if (beast::iequals(t, "connection")) continue;  // last, below
      named.push_back(t);
    }
  }
  for (const auto& name : named) fields.erase(name);
  for (auto it = fields.begin(); it != fields.end();) {
    const beast::string_view name = it->name_string();
    if (name.size() >= 6 && beast::iequals(name.substr(0, 6), "proxy-")) {
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
  fields.erase(http::field::connection);
  fields.erase(http::field::keep_alive);
  fields.erase(http::field::te);
  fields.erase(http::field::trailer);
  if (!keep_upgrade) fields.erase(http::field::upgrade);
}

bool is_websocket_upgrade(const Fields& fields) {
  bool connection_upgrade = false;
  auto range = fields.equal_range(http::field::connection);
  for (auto it = range.first; it != range.second; ++it) {
    if (has_token(it->value(), "upgrade")) connection_upgrade = true;
  }
  return connection_upgrade && beast::iequals(fields[http::field::upgrade], "websocket");
}

bool is_idempotent(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::put:
    case http::verb::delete_:
    case http::verb::trace:
      return true;
    default:
      return false;
  }
}

bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '/' || c == '+' || c == '=' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void set_forwarding(Fields& fields, std::string_view client_ip, std::string_view scheme,
                    std::string_view host, std::string_view request_id) {
  std::string xff;
  auto range = fields.equal_range("X-Forwarded-For");
  for (auto it = range.first; it != range.second; ++it) {
    std::string_view v(it->value().data(), it->value().size());
    if (v.empty()) continue;
    if (!xff.empty()) xff += ", ";
    xff += v;
  }
  if (!xff.empty()) xff += ", ";
  xff += client_ip;
  fields.set("X-Forwarded-For", xff);
  fields.set("X-Forwarded-Proto", bsv(scheme));
  if (!host.empty()) fields.set("X-Forwarded-Host", bsv(host));
  fields.set("X-Request-Id", bsv(request_id));
}

}  // namespace shoal::node::router
