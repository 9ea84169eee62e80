// node/router/error_page.cc
#include "node/router/error_page.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <string>

namespace shoal::node::router {

namespace http = boost::beast::http;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

bool prefers_json(std::string_view accept) {
  double json_q = -1, html_q = -1;
  int json_pos = -1, html_pos = -1, pos = 0;
  while (!accept.empty()) {
    size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    size_t semi = item.find(';');
    std::string type = lower(trim(item.substr(0, semi)));
    double q = 1;
    while (semi != std::string_view::npos) {
      std::string_view rest = item.substr(semi + 1);
      semi = rest.find(';');
      std::string_view param = trim(rest.substr(0, semi));
      if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        try {
          q = std::stod(std::string(param.substr(2)));
        } catch (...) {
          q = 0;
        }
      }
      item = rest;
    }
    bool is_json = type == "application/json" || type.ends_with("+json");
    bool is_html = type == "text/html" || type == "application/xhtml+xml";
    if (is_json && q > json_q) json_q = q, json_pos = pos;
    if (is_html && q > html_q) html_q = q, html_pos = pos;
    ++pos;
  }
  if (json_q <= 0) return false;
  if (json_q != html_q) return json_q > html_q;
  return json_pos < html_pos;
}

http::response<http::string_body> error_response(http::status status, std::string_view message,
                                                 const ErrorContext& ctx) {
  http::response<http::string_body> res{status, ctx.version == 10 ? 10u : 11u};
  const unsigned code = static_cast<unsigned>(status);
  const std::string reason(http::obsolete_reason(status));
  if (prefers_json(ctx.accept)) {
    nlohmann::json body = {{"error", std::string(message)}, {"status", code}};
    if (!ctx.host.empty()) body["host"] = std::string(ctx.host);
    if (!ctx.request_id.empty()) body["request_id"] = std::string(ctx.request_id);
    res.set(http::field::content_type, "application/json");
    res.body() = body.dump() + "\n";
  } else {
    res.set(http::field::content_type, "text/html; charset=utf-8");
    res.body() = fmt::format(
        "<!DOCTYPE html>\n<html><head><title>{0} {1}</title></head>\n"
        "<body><h1>{0} {1}</h1>\n<p>{2}</p>\n<hr><p><small>shoal router{3}</small></p>"
        "</body></html>\n",
        code, html_escape(reason), html_escape(message),
        ctx.request_id.empty() ? std::string()
                               : " &middot; request " + html_escape(ctx.request_id));
  }
  res.set(http::field::server, "shoal");
  res.set(http::field::cache_control, "no-store");
  if (!ctx.request_id.empty()) res.set("X-Request-Id",
                                         boost::beast::string_view(ctx.request_id.data(), ctx.request_id.size()));
  res.keep_alive(ctx.keep_alive);
  res.prepare_payload();
  if (ctx.head) res.body().clear();  // Content-Length stays that of the page
  return res;
}

}  // namespace shoal::node::router
