// node/http_server_impl.h
//
// Inside HttpServer (http_server.cc: listening, admitting, stopping) and its connections
// (http_connection.cc: reading requests, dispatching them to handlers on the worker pool,
// writing answers and streams; the handlers' responders are http_responder.cc's, through
// http_exchange.h). Not for use outside those files.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "node/http_server.h"

namespace shoal::node {

// One accepted connection, owned by shared_ptrs (its pending IO and responders) and
// listed weakly in Impl::conns so stop() can reach it.
class ServerConnection {
 public:
  virtual ~ServerConnection() = default;
  virtual void start() = 0;           // IO thread: begins reading requests
  virtual void begin_shutdown() = 0;  // IO thread: idle or streaming closes now, busy once out
  virtual void close() = 0;           // IO thread: at once
};

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  HttpRouter router;
  HttpServerOptions options;
  boost::asio::io_context io{1};
  boost::asio::ip::tcp::acceptor acceptor{io};
  std::unique_ptr<boost::asio::thread_pool> workers;
  std::thread io_thread;
  std::atomic<bool> stopped{false};
  // Keeps io.run() going while stop() waits for the workers: without it the IO thread
  // could run out of work between stop()'s two posts, and the drain would never run.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      keep_running;
  // Set once the IO thread has exited: a responder that outlives the server drops what it
  // would post instead of queueing a handler that holds the connection (and so this Impl)
  // in an io_context nobody runs, a cycle that would never be freed.
  std::mutex post_mu;
  bool io_finished = false;
  std::mutex conns_mu;
  std::unordered_map<ServerConnection*, std::weak_ptr<ServerConnection>> conns;

  void accept();
  // IO thread. `remote`: who the client is, when the socket cannot say (a relayed one).
  void admit(boost::asio::ip::tcp::socket socket, std::string remote = {});
};

// A connection for `socket`, not started yet (http_connection.cc).
std::shared_ptr<ServerConnection> make_connection(std::shared_ptr<HttpServer::Impl> server,
                                                  boost::asio::ip::tcp::socket socket,
                                                  std::string remote);

std::string json_error(std::string_view message);  // {"error": message}
std::string endpoint_string(const boost::asio::ip::tcp::endpoint& ep);

}  // namespace shoal::node
