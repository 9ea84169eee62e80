// node/tcp_listen.h
//
// listen_tcp(): opens, binds (SO_REUSEADDR, so a restarted agent need not wait out
// TIME_WAIT) and listens an Asio acceptor on `at`, for the agent's HTTP listeners.
// invalid_argument if `at` is not an IP; io_error naming `what` and the address otherwise.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>

#include "base/status.h"
#include "gossip/address.h"

namespace shoal::node {

inline Status listen_tcp(boost::asio::ip::tcp::acceptor& acceptor, const gossip::Address& at,
                         std::string_view what) {
  namespace net = boost::asio;
  boost::system::error_code ec;
  const net::ip::tcp::endpoint ep(net::ip::make_address(at.ip_string(), ec), at.port);
  if (ec) {
    return Status::invalid_argument(std::string(what) + " address '" + at.to_string() +
                                    "' is not an IP");
  }
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::io_error("cannot listen for " + std::string(what) + " on " + at.to_string() +
                            ": " + ec.message());
  }
  return Status();
}

}  // namespace shoal::node
