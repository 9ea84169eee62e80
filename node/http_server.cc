#include "node/http_server.h"

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <unistd.h>

#include "node/http_server_impl.h"
#include "node/tcp_listen.h"

namespace shoal::node {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

void HttpServer::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || self->stopped) return;
      spdlog::warn("http-accept-failed error=\"{}\"", ec.message());
    } else {
      self->admit(std::move(socket));
    }
    self->accept();
  });
}

void HttpServer::Impl::admit(tcp::socket socket, std::string remote) {
  auto conn = make_connection(shared_from_this(), std::move(socket), std::move(remote));
  bool admitted;
  {
    std::lock_guard lock(conns_mu);
    admitted = !stopped && conns.size() < options.max_connections;
    if (admitted) conns.emplace(conn.get(), conn);
  }
  if (admitted) {
    conn->start();
  } else {
    if (!stopped) spdlog::warn("http-too-many-connections limit={}", options.max_connections);
    conn->close();
  }
}

void reply_error(HttpResponder& responder, int status, std::string_view message) {
  responder.reply(status, json_error(message), "application/json", {});
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(const gossip::Address& listen,
                                                      HttpRouter router,
                                                      HttpServerOptions options) {
  auto impl = std::make_shared<Impl>();
  impl->router = std::move(router);
  impl->options = options;
  SHOAL_RETURN_IF_ERROR(listen_tcp(impl->acceptor, listen, "HTTP"));
  impl->accept();
  return launch(std::move(impl));
}

std::unique_ptr<HttpServer> HttpServer::start_unbound(HttpRouter router,
                                                      HttpServerOptions options) {
  auto impl = std::make_shared<Impl>();
  impl->router = std::move(router);
  impl->options = options;
  return launch(std::move(impl));
}

std::unique_ptr<HttpServer> HttpServer::launch(std::shared_ptr<Impl> impl) {
  impl->workers =
      std::make_unique<net::thread_pool>(std::max(1, impl->options.worker_threads));
  impl->keep_running.emplace(impl->io.get_executor());
  impl->io_thread = std::thread([raw = impl.get()] { raw->io.run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::adopt(int fd, std::string remote) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
      (local.ss_family != AF_INET && local.ss_family != AF_INET6 && local.ss_family != AF_UNIX)) {
    spdlog::warn("http-adopt-failed reason=\"not a stream socket\"");
    ::close(fd);
    return;
  }
  // A relayed connection (node/rpc_http_relay.h) is a local stream socket: the server only
  // reads, writes and closes it, which a tcp::socket does the same on any stream fd.
  const tcp protocol = local.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
  std::lock_guard lock(impl_->post_mu);
  if (impl_->io_finished) {
    ::close(fd);
    return;
  }
  net::post(impl_->io, [impl = impl_, fd, protocol, remote = std::move(remote)]() mutable {
    tcp::socket socket(impl->io);
    beast::error_code ec;
    socket.assign(protocol, fd, ec);
    if (ec) {
      spdlog::warn("http-adopt-failed reason=\"{}\"", ec.message());
      ::close(fd);
      return;
    }
    impl->admit(std::move(socket), std::move(remote));
  });
}

gossip::Address HttpServer::address() const {
  beast::error_code ec;
  gossip::Address out;
  if (!impl_->acceptor.is_open()) return out;
  auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return out;
  auto parsed = gossip::Address::parse(endpoint_string(ep), 0);
  return parsed.ok() ? *parsed : out;
}

namespace {

std::vector<std::shared_ptr<ServerConnection>> live_connections(HttpServer::Impl& impl) {
  std::vector<std::shared_ptr<ServerConnection>> live;
  std::lock_guard lock(impl.conns_mu);
  for (auto& [raw, weak] : impl.conns) {
    if (auto c = weak.lock()) live.push_back(std::move(c));
  }
  return live;
}

constexpr auto kDrainTimeout = std::chrono::seconds(2);
constexpr auto kDrainPoll = std::chrono::milliseconds(20);

// Waits (on the IO thread, by timer) for answers already made to go out, then cuts what
// is left.
void drain(std::shared_ptr<HttpServer::Impl> impl, std::shared_ptr<net::steady_timer> timer,
           std::chrono::steady_clock::time_point deadline) {
  auto live = live_connections(*impl);
  if (live.empty()) return;
  if (std::chrono::steady_clock::now() >= deadline) {
    for (auto& c : live) c->close();
    return;
  }
  live.clear();
  timer->expires_after(kDrainPoll);
  timer->async_wait([impl, timer, deadline](beast::error_code) { drain(impl, timer, deadline); });
}

}  // namespace

void HttpServer::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  net::post(impl_->io, [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    for (auto& c : live_connections(*impl)) c->begin_shutdown();
  });
  // Handlers still running may block briefly on the agent; their answers (a leave's, say)
  // still go out, within kDrainTimeout.
  impl_->workers->join();
  net::post(impl_->io, [impl = impl_] {
    drain(impl, std::make_shared<net::steady_timer>(impl->io),
          std::chrono::steady_clock::now() + kDrainTimeout);
  });
  impl_->keep_running.reset();
  if (impl_->io_thread.joinable()) impl_->io_thread.join();
  {
    std::lock_guard lock(impl_->post_mu);
    impl_->io_finished = true;
  }
  // Run what responders posted while the IO thread was finishing: each holds a connection.
  impl_->io.restart();
  impl_->io.poll();
}

}  // namespace shoal::node
