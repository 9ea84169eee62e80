#include "node/tls/api_listener.h"

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "node/metrics.h"
#include "node/router/tls.h"
#include "node/tcp_listen.h"

namespace shoal::node::tls {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr size_t kPiece = 64 * 1024;
constexpr auto kCloseNotifyWait = std::chrono::seconds(2);
constexpr auto kDrainWait = std::chrono::seconds(3);

struct Counters {
  metrics::Counter& accepted;
  metrics::Counter& handshake_failed;
  metrics::Counter& plain_http;
  metrics::Counter& timed_out;
  metrics::Counter& over_limit;
};

Counters& counters() {
  static Counters c = [] {
    auto& f = metrics::registry().counter_family(
        "shoal_api_tls_total",
        "Connections to the API's TLS listener, by how their handshake ended (docs/security.md)",
        {"event"});
    return Counters{f.labels({"accepted"}), f.labels({"handshake_failed"}),
                    f.labels({"plain_http"}), f.labels({"timed_out"}), f.labels({"over_limit"})};
  }();
  return c;
}

std::string remote_of(const tcp::socket& s) {
  error_code ec;
  const auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  const auto ip = ep.address();
  return (ip.is_v6() ? "[" + ip.to_string() + "]" : ip.to_string()) + ":" +
         std::to_string(ep.port());
}

// OpenSSL's reason when the first bytes were a plain HTTP request.
bool is_plain_http(const error_code& ec) {
  return ec.category() == net::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST;
}

}  // namespace

// One client: its handshake, then the two pumps between TLS and the server's socket.
class TlsConnection : public std::enable_shared_from_this<TlsConnection> {
 public:
  TlsConnection(std::shared_ptr<ApiTlsListener::Impl> owner, tcp::socket socket,
                ssl::context& ctx);
  void start();
  void close();
  bool handshaking() const { return handshaking_; }

 private:
  void on_handshake(const error_code& ec);
  void answer_plain_http();
  void read_tls();
  void read_local();
  void end_tls();

  std::shared_ptr<ApiTlsListener::Impl> owner_;
  ssl::stream<tcp::socket> tls_;
  net::local::stream_protocol::socket local_;
  net::steady_timer timer_;
  std::string remote_;
  std::vector<char> from_tls_;
  std::vector<char> from_local_;
  bool handshaking_ = true;
  bool tls_reading_ = false;
  bool ending_ = false;
  bool closed_ = false;
};

struct ApiTlsListener::Impl : std::enable_shared_from_this<Impl> {
  net::io_context io;
  tcp::acceptor acceptor{io};
  std::shared_ptr<ssl::context> ctx;
  Adopt adopt;
  ApiTlsOptions options;
  gossip::Address address;
  std::thread thread;
  std::mutex stop_mu;
  bool stopped = false;  // IO thread only, after start
  size_t handshaking = 0;
  std::unordered_map<TlsConnection*, std::weak_ptr<TlsConnection>> conns;
  std::optional<net::steady_timer> drain_deadline;

  void accept() {
    acceptor.async_accept([self = shared_from_this()](error_code ec, tcp::socket socket) {
      if (self->stopped) return;
      if (ec) {
        if (ec == net::error::operation_aborted) return;
        spdlog::warn("api-tls-accept-failed error=\"{}\"", ec.message());
      } else if (self->handshaking >= self->options.max_handshakes) {
        counters().over_limit.inc();
        error_code ignored;
        socket.close(ignored);
      } else {
        auto conn = std::make_shared<TlsConnection>(self, std::move(socket), *self->ctx);
        self->conns.emplace(conn.get(), conn);
        conn->start();
      }
      self->accept();
    });
  }
  void forget(TlsConnection* c) {
    conns.erase(c);
    if (stopped && conns.empty() && drain_deadline) drain_deadline->cancel();
  }
  // `only_handshaking`: those that never reached the server, and have nothing to finish.
  void close_all(bool only_handshaking = false) {
    auto copy = conns;  // close() erases from conns
    for (auto& [raw, weak] : copy) {
      auto c = weak.lock();
      if (c && (!only_handshaking || c->handshaking())) c->close();
    }
  }
};

TlsConnection::TlsConnection(std::shared_ptr<ApiTlsListener::Impl> owner, tcp::socket socket,
                             ssl::context& ctx)
    : owner_(std::move(owner)),
      tls_(std::move(socket), ctx),
      local_(owner_->io),
      timer_(owner_->io),
      remote_(remote_of(tls_.next_layer())) {}

void TlsConnection::start() {
  ++owner_->handshaking;
  timer_.expires_after(owner_->options.handshake_timeout);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || !self->handshaking_) return;
    counters().timed_out.inc();
    spdlog::debug("api-tls-handshake-timeout remote={}", self->remote_);
    self->close();
  });
  tls_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](const error_code& ec) {
    self->on_handshake(ec);
  });
}

void TlsConnection::on_handshake(const error_code& ec) {
  if (closed_) return;
  handshaking_ = false;
  --owner_->handshaking;
  timer_.cancel();
  if (ec) {
    if (is_plain_http(ec)) {
      counters().plain_http.inc();
      answer_plain_http();
      return;
    }
    counters().handshake_failed.inc();
    spdlog::debug("api-tls-handshake-failed remote={} error=\"{}\"", remote_, ec.message());
    close();
    return;
  }
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    spdlog::warn("api-tls-socketpair-failed error=\"{}\"", std::strerror(errno));
    close();
    return;
  }
  error_code assign_ec;
  local_.assign(net::local::stream_protocol(), fds[0], assign_ec);
  if (assign_ec) {
    ::close(fds[0]);
    ::close(fds[1]);
    close();
    return;
  }
  counters().accepted.inc();
  owner_->adopt(fds[1], remote_);
  from_tls_.resize(kPiece);
  from_local_.resize(kPiece);
  read_tls();
  read_local();
}

void TlsConnection::answer_plain_http() {
  const auto where = owner_->address.to_string();
  auto body = std::make_shared<std::string>(
      "{\"error\": \"this API speaks TLS: use https://" + where + "\"}\n");
  auto message = std::make_shared<std::string>(
      "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(body->size()) + "\r\nConnection: close\r\n\r\n" + *body);
  net::async_write(tls_.next_layer(), net::buffer(*message),
                   [self = shared_from_this(), message](const error_code&, size_t) {
                     self->close();
                   });
}

void TlsConnection::read_tls() {
  tls_reading_ = true;
  tls_.async_read_some(net::buffer(from_tls_), [self = shared_from_this()](
                                                    const error_code& ec, size_t n) {
    self->tls_reading_ = false;
    if (self->closed_) return;
    if (self->ending_) return self->end_tls();  // read cancelled to send close_notify
    if (ec) {
      // The client is done sending (or gone): the server sees the end of its requests and
      // closes when it has answered them, which ends the other pump.
      error_code ignored;
      self->local_.shutdown(net::socket_base::shutdown_send, ignored);
      return;
    }
    net::async_write(self->local_, net::buffer(self->from_tls_.data(), n),
                     [self](const error_code& wec, size_t) {
                       if (self->closed_) return;
                       if (wec) return self->close();
                       self->read_tls();
                     });
  });
}

void TlsConnection::read_local() {
  local_.async_read_some(net::buffer(from_local_), [self = shared_from_this()](
                                                       const error_code& ec, size_t n) {
    if (self->closed_) return;
    if (ec) {
      // The server closed its end: tell the client with a close_notify. A read still in
      // flight would race the shutdown's own reads, so it is cancelled first.
      self->ending_ = true;
      if (self->tls_reading_) {
        error_code ignored;
        self->tls_.next_layer().cancel(ignored);
        return;
      }
      return self->end_tls();
    }
    net::async_write(self->tls_, net::buffer(self->from_local_.data(), n),
                     [self](const error_code& wec, size_t) {
                       if (self->closed_) return;
                       if (wec) return self->close();
                       self->read_local();
                     });
  });
}

void TlsConnection::end_tls() {
  timer_.expires_after(kCloseNotifyWait);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec) self->close();
  });
  tls_.async_shutdown([self = shared_from_this()](const error_code&) { self->close(); });
}

void TlsConnection::close() {
  if (closed_) return;
  closed_ = true;
  if (handshaking_) {
    handshaking_ = false;
    --owner_->handshaking;
  }
  error_code ignored;
  timer_.cancel();
  tls_.next_layer().close(ignored);
  local_.close(ignored);
  owner_->forget(this);
}

Result<std::unique_ptr<ApiTlsListener>> ApiTlsListener::start(const gossip::Address& listen,
                                                              const router::TlsPem& pem,
                                                              Adopt adopt, ApiTlsOptions options) {
  auto ctx = router::make_server_context(pem);
  if (!ctx.ok()) return ctx.status();
  auto impl = std::make_shared<Impl>();
  impl->ctx = std::move(*ctx);
  impl->adopt = std::move(adopt);
  impl->options = options;
  SHOAL_RETURN_IF_ERROR(listen_tcp(impl->acceptor, listen, "HTTPS"));
  error_code ec;
  const auto bound = impl->acceptor.local_endpoint(ec);
  impl->address = listen;
  if (!ec) impl->address.port = bound.port();
  impl->accept();
  impl->thread = std::thread([raw = impl.get()] { raw->io.run(); });
  return std::unique_ptr<ApiTlsListener>(new ApiTlsListener(std::move(impl)));
}

ApiTlsListener::~ApiTlsListener() { stop(); }

gossip::Address ApiTlsListener::address() const { return impl_->address; }

void ApiTlsListener::stop() {
  std::lock_guard lock(impl_->stop_mu);
  if (!impl_->thread.joinable()) return;
  net::post(impl_->io, [impl = impl_] {
    impl->stopped = true;
    error_code ignored;
    impl->acceptor.close(ignored);
    impl->close_all(/*only_handshaking=*/true);
    if (impl->conns.empty()) return;
    // The server has stopped first and closed its ends: each relay is sending its last
    // answer and a close_notify. Give them a moment, then cut what is left.
    impl->drain_deadline.emplace(impl->io, kDrainWait);
    impl->drain_deadline->async_wait([impl](const error_code&) { impl->close_all(); });
  });
  // Once every connection is gone nothing is left to run, and run() returns.
  impl_->thread.join();
}

}  // namespace shoal::node::tls
