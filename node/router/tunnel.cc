// node/router/tunnel.cc
// GCC 12 at -O1 and up reports -Wmismatched-new-delete inside Asio's awaitable frame
// allocator (operator new/delete of the frame are a matching pair; a false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

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
  Tunnel(tcp::socket c, tcp::socket b) : client(std::move(c)), backend(std::move(b)) {}
  tcp::socket client;
  tcp::socket backend;
  int open_directions = 2;

  void close_both() {
    boost::system::error_code ec;
    client.close(ec);
    backend.close(ec);
  }
};

net::awaitable<void> pump(std::shared_ptr<Tunnel> t, tcp::socket& from, tcp::socket& to,
                          std::string pending) {
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
  if (ec == net::error::eof) {
    boost::system::error_code ignored;
    to.shutdown(tcp::socket::shutdown_send, ignored);  // pass the end of stream on
    if (--t->open_directions == 0) t->close_both();
  } else {
    t->close_both();
  }
}

}  // namespace

void start_tunnel(tcp::socket client, std::string client_pending, tcp::socket backend,
                  std::string backend_pending) {
  auto ex = client.get_executor();
  auto t = std::make_shared<Tunnel>(std::move(client), std::move(backend));
  net::co_spawn(ex, pump(t, t->client, t->backend, std::move(client_pending)), net::detached);
  net::co_spawn(ex, pump(t, t->backend, t->client, std::move(backend_pending)), net::detached);
}

}  // namespace shoal::node::router
