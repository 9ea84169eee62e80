// node/router/tunnel.h
//
// start_tunnel(): after a backend answered a WebSocket handshake with 101, the router only
// splices bytes: whatever each side sends goes to the other as it comes. When one side
// ends its stream, the other's sending half is shut down (a TLS client has no half-close:
// there the tunnel ends); when both have ended, or either
// fails, both sockets close. The tunnel owns both sockets and lives on their executor
// (one IO thread); it has no idle timeout (WebSocket apps ping), and Router::stop() ends it.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/ip/tcp.hpp>

#include <string>

#include "node/router/client_stream.h"

namespace shoal::node::router {

// `client_pending` / `backend_pending`: bytes already read from one side past the HTTP
// exchange, which go to the other side first.
void start_tunnel(ClientStream client, std::string client_pending,
                  boost::asio::ip::tcp::socket backend, std::string backend_pending);

}  // namespace shoal::node::router
