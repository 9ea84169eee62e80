// node/router/proxy_headers.h
//
// What a reverse proxy changes in the headers it passes on: hop-by-hop fields go (they
// describe one connection, not the message), X-Forwarded-* and X-Request-Id are added
// for the app. Framing fields (Content-Length, Transfer-Encoding) stay: the parser and
// MessageWriter frame each side of the proxy from them.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/beast/http/verb.hpp>

#include <string_view>

#include "node/router/head_arena.h"

namespace shoal::node::router {

// Removes Connection and every field it names, Keep-Alive, Proxy-*, TE, Trailer, and
// Upgrade unless keep_upgrade (a WebSocket handshake passes it on).
void strip_hop_by_hop(Fields& fields, bool keep_upgrade);

// A WebSocket handshake: Connection names "upgrade" and Upgrade is "websocket".
bool is_websocket_upgrade(const Fields& fields);

// GET, HEAD, OPTIONS, PUT, DELETE (and TRACE): safe to send twice.
bool is_idempotent(boost::beast::http::verb method);

// A client's X-Request-Id we pass on: 1..128 visible characters of [A-Za-z0-9._:/+=-].
bool sane_request_id(std::string_view id);

// Appends client_ip to X-Forwarded-For (joining repeated fields), sets X-Forwarded-Proto
// to `scheme` ("http" or "https"), X-Forwarded-Host to the client's Host and X-Request-Id.
void set_forwarding(Fields& fields, std::string_view client_ip, std::string_view scheme,
                    std::string_view host, std::string_view request_id);

}  // namespace shoal::node::router
