// node/router/client_stream.h
//
// ClientStream: a client connection of the router, plain TCP or TLS (--router-tls), as one
// Asio stream type, so the session, the forwarder, the body relay and the tunnel are
// written once for both. Each operation goes to the TLS stream when there is one, else to
// the socket; both take the same completion tokens and give the same result types.
//
// socket() is the TCP socket underneath either way: socket options, cancel() (a timeout
// cancels the TLS operation on it too), the peer's address, close().
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <memory>

namespace shoal::node::router {

class ClientStream {
 public:
  using socket_type = boost::asio::ip::tcp::socket;
  using executor_type = socket_type::executor_type;

  explicit ClientStream(socket_type socket) : socket_(std::move(socket)) {}
  // A TLS server stream over `socket`; handshake() before anything else.
  ClientStream(socket_type socket, boost::asio::ssl::context& context)
      : socket_(socket.get_executor()),
        tls_(std::make_unique<boost::asio::ssl::stream<socket_type>>(std::move(socket), context)) {}
  ClientStream(ClientStream&&) = default;
  ClientStream& operator=(ClientStream&&) = default;

  executor_type get_executor() { return socket().get_executor(); }
  socket_type& socket() { return tls_ ? tls_->next_layer() : socket_; }
  bool tls() const { return tls_ != nullptr; }
  // REQUIRES: tls().
  boost::asio::ssl::stream<socket_type>& tls_stream() { return *tls_; }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return socket_.async_read_some(buffers, std::forward<Token>(token));
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return socket_.async_write_some(buffers, std::forward<Token>(token));
  }

  // A write that never waits: what the socket takes now (MessageWriter's first try, in
  // message_writer.h). Over TLS it takes nothing (would_block): an SSL record cut short by
  // a full socket cannot be finished synchronously, so TLS writes are always asynchronous.
  // REQUIRES: the socket is in non-blocking mode (the session sets it).
  template <class Buffers>
  size_t write_some(const Buffers& buffers, boost::system::error_code& ec) {
    if (tls_) {
      ec = boost::asio::error::would_block;
      return 0;
    }
    return socket_.write_some(buffers, ec);
  }

  // Passes the end of the stream on, when the transport can: a TCP half-close. TLS has no
  // half-close a client expects (close_notify ends both ways), so there it does nothing.
  void shutdown_send() {
    boost::system::error_code ignored;
    if (!tls_) socket_.shutdown(socket_type::shutdown_send, ignored);
  }

  void close() {
    boost::system::error_code ignored;
    socket().close(ignored);
  }

 private:
  socket_type socket_;  // unused (never opened) when tls_ holds the socket
  std::unique_ptr<boost::asio::ssl::stream<socket_type>> tls_;
};

}  // namespace shoal::node::router
