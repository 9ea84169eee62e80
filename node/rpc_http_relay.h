// node/rpc_http_relay.h
//
// HttpRelay: carries one HTTP connection that arrived over the node-to-node channel to the
// agent's HTTP server, which takes plain sockets (HttpServer::adopt). It makes a
// socketpair, hands one end to the server, and pumps between the other end and the
// channel: records opened from the network are written to the server, what the server
// answers is sealed back. This keeps the server unaware of the channel, at the cost of
// one copy through the kernel (bench/raft's deploy numbers include it).
//
// Contract:
//  - Runs on the io_context's thread; close() ends it at once (both sockets closed).
//  - Back-pressure both ways: a direction reads again only once its last write finished.
//  - The caller's end of its stream (its final record) shuts the server's read side; the
//    server closing its end sends our final record and ends the relay. A record that fails
//    to open, or a stream cut without its final record, closes everything and is counted.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <functional>
#include <memory>

#include "base/bytes.h"
#include "base/status.h"
#include "node/secure/session.h"

namespace shoal::node {

class HttpRelay : public std::enable_shared_from_this<HttpRelay> {
 public:
  // Hands `server_fd` to `adopt` and starts pumping; `first_plain` is what the caller sent
  // so far (opened by the accept step). `on_end` runs once when the relay is over.
  static Result<std::shared_ptr<HttpRelay>> start(boost::asio::ip::tcp::socket net,
                                                  std::unique_ptr<secure::Session> session,
                                                  Bytes first_plain,
                                                  const std::function<void(int fd)>& adopt,
                                                  std::function<void(HttpRelay*)> on_end);
  void close();

 private:
  HttpRelay(boost::asio::ip::tcp::socket net, boost::asio::local::stream_protocol::socket local,
            std::unique_ptr<secure::Session> session, std::function<void(HttpRelay*)> on_end);
  void write_local(Bytes plain);
  void read_net();
  void read_local();
  void finish(const std::string& why);

  boost::asio::ip::tcp::socket net_;
  boost::asio::local::stream_protocol::socket local_;
  std::unique_ptr<secure::Session> session_;
  std::function<void(HttpRelay*)> on_end_;
  std::vector<uint8_t> net_buf_;
  std::vector<uint8_t> local_buf_;
  Bytes to_local_;
  Bytes to_net_;
  bool done_ = false;
};

}  // namespace shoal::node
