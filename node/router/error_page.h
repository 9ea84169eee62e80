// node/router/error_page.h
//
// The router's own answers (unknown host, no backend, 502, 504, 4xx): a small HTML page,
// or JSON {"error": "...", "status": N, "host": "...", "request_id": "..."} when the
// client's Accept prefers application/json. Text from the request (the host) is escaped.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string_view>

namespace shoal::node::router {

// Whether an Accept header ranks application/json (or any +json type) above text/html:
// higher q wins, then whichever is listed first. No Accept, or */*: HTML.
bool prefers_json(std::string_view accept);

struct ErrorContext {
  std::string_view accept;
  std::string_view host;
  std::string_view request_id;
  unsigned version = 11;
  bool keep_alive = false;
  bool head = false;  // a HEAD request: headers only
};

// `status` with `message` ("no app serves host x.localhost") as HTML or JSON.
boost::beast::http::response<boost::beast::http::string_body> error_response(
    boost::beast::http::status status, std::string_view message, const ErrorContext& ctx);

}  // namespace shoal::node::router
