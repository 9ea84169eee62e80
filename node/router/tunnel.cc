// node/router/tunnel.cc
#include "node/router/tunnel.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <memory>

namespace shoal::node::router {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

struct Tunnel {
  Tunnel(ClientStream c, tcp::socket b) : client(std::move(c)), backend(std::move(b)) {}
  ClientStream client;
  tcp::socket backend;
  int open_directions = 2;

  void close_both() {
    boost::system::error_code ec;
    client.close();
    backend.close(ec);
  }
};

// Passes the end of the stream on; false when the transport has no half-close (TLS), and
// the tunnel must end instead.
bool pass_eof(tcp::socket& to) {
  boost::system::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
  return true;
}
bool pass_eof(ClientStream& to) {
  if (to.tls()) return false;
  to.shutdown_send();
  return true;
}

template <class From, class To>
net::awaitable<void> pump(std::shared_ptr<Tunnel> t, From& from, To& to, std::string pending) {
  boost::system::error_code ec;
  auto tok = net::redirect_error(net::use_awaitable, ec);
  if (!pending.empty()) {
    co_await net::async_write(to, net::buffer(pending), tok);
    if (ec) {
      t->close_both();
      co_return;
    }
  }
  std::array<char, 16 * 1024> buf;
  for (;;) {
    size_t n = co_await from.async_read_some(net::buffer(buf), tok);
    if (ec) break;
    co_await net::async_write(to, net::buffer(buf.data(), n), tok);
    if (ec) {
      t->close_both();
      co_return;
    }
  }
  if (ec == net::error::eof && pass_eof(to)) {
    if (--t->open_directions == 0) t->close_both();
  } else {
    t->close_both();
  }
}

}  // namespace

void start_tunnel(ClientStream client, std::string client_pending, tcp::socket backend,
                  std::string backend_pending) {
  auto ex = client.get_executor();
  auto t = std::make_shared<Tunnel>(std::move(client), std::move(backend));
  net::co_spawn(ex, pump(t, t->client, t->backend, std::move(client_pending)), net::detached);
  net::co_spawn(ex, pump(t, t->backend, t->client, std::move(backend_pending)), net::detached);
}

}  // namespace shoal::node::router
