// node/router/forwarder.h
//
// forward(): proxies one request, whose head the client session has read, to one of its
// app's backends and streams the response back.
//
//  - Backend choice: BackendPool::pick (power of two choices on outstanding requests);
//    a pooled keep-alive connection if one is idle, else a new one (connect_timeout).
//  - Retries: a connect that fails (refused or timed out) ejects the backend for
//    eject_for and the request goes to another backend, once; nothing was sent, so any
//    method may go. A pooled connection that turns out closed (the head cannot be written,
//    or the backend hangs up before answering an idempotent request without a body) is
//    replaced by a new connection. All attempts failing: 502.
//  - No response head within response_timeout: 504. Each later read of the response body
//    also gets response_timeout.
//  - A WebSocket handshake answered 101 becomes a tunnel (tunnel.h): the session ends.
//  - Every failure before the response head is answered with an error page; after it, the
//    client connection is closed (the only way to say the body is incomplete).
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <string>

#include "node/router/client_session.h"
#include "node/router/error_page.h"
#include "node/router/head_arena.h"
#include "node/router/route_table.h"

namespace shoal::node::router {

struct RequestInfo {
  boost::beast::http::verb method{};
  std::string method_text;
  std::string target;
  std::string host;  // as the client sent it
  std::string accept;
  std::string request_id;
  unsigned version = 11;
  bool keep_alive = true;  // what the client asked for
  bool websocket = false;

  ErrorContext error_context(bool keep_alive_answer) const {
    return ErrorContext{accept, host, request_id, version, keep_alive_answer,
                        method == boost::beast::http::verb::head};
  }
};

struct ExchangeResult {
  enum class Next { keep_alive, close, tunneled };
  int status = 0;  // sent to the client; 499: the client left before its answer
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::string instance;  // the backend that answered, if one did
  Next next = Next::close;
};

boost::asio::awaitable<ExchangeResult> forward(ClientSession& client, RequestParser& request,
                                               const AppRoutes& app, const RequestInfo& info);

}  // namespace shoal::node::router
