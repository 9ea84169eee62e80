// tests/node/router/router_test_support.h
//
// Real-socket helpers for the router's tests, all on 127.0.0.1 and bounded in time:
//  - TestBackend: a tiny app instance (Beast on its own io_context thread) whose paths
//    behave differently: "/hang" never answers, "/stream" sends one chunk and the second
//    only after release(), "/ws" accepts an Upgrade with 101 and echoes raw bytes,
//    "/eof" ends its body by closing, "/echo" answers with the request's body (and
//    "/echo-chunked" the same in chunked framing), "/bad-chunk" sends a head and a
//    malformed chunk at once, "/bye" answers and then closes the kept-alive connection
//    after 50 ms (a backend's keep-alive timeout); anything else answers 200
//    "backend=NAME ...".
//  - TestClient: one client connection; every read and write waits at most a timeout.
#pragma once

// GCC 12 at -O1 and up reports -Wmismatched-new-delete inside Asio's awaitable frame
// allocator (operator new/delete of the frame are a matching pair; a false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gossip/address.h"
#include "node/router/router.h"

namespace shoal::test::router {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

class TestBackend {
 public:
  explicit TestBackend(std::string name, uint16_t port = 0) : name_(std::move(name)) {
    tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(io_, accept_loop(), net::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestBackend() {
    io_.stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  int connections() const { return connections_; }
  int requests() const { return requests_; }
  std::vector<http::request<http::string_body>> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  void release() { released_ = true; }

  node::router::Backend backend(std::string instance, std::string node = "n1") const {
    return node::router::Backend{std::move(instance), std::move(node), "127.0.0.1", port_, 1};
  }

 private:
  static auto tok(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

  net::awaitable<void> accept_loop() {
    for (;;) {
      beast::error_code ec;
      tcp::socket s = co_await acceptor_.async_accept(tok(ec));
      if (ec) co_return;
      ++connections_;
      net::co_spawn(io_, serve(std::move(s)), net::detached);
    }
  }

  net::awaitable<void> write_raw(tcp::socket& s, std::string text, beast::error_code& ec) {
    co_await net::async_write(s, net::buffer(text), tok(ec));
  }

  net::awaitable<void> serve(tcp::socket s) {
    beast::flat_buffer buf;
    beast::error_code ec;
    for (;;) {
      http::request_parser<http::string_body> p;
      p.body_limit(1ull << 30);
      co_await http::async_read(s, buf, p, tok(ec));
      if (ec) co_return;
      auto req = p.release();
      ++requests_;
      {
        std::lock_guard lock(mu_);
        seen_.push_back(req);
      }
      const std::string target(req.target());
      if (target == "/hang") {
        char c[512];
        while (!ec) co_await s.async_read_some(net::buffer(c), tok(ec));
        co_return;
      }
      if (target == "/ws") {
        co_await write_raw(s,
                           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\n\r\n",
                           ec);
        std::string pending = beast::buffers_to_string(buf.data());
        if (!pending.empty()) co_await write_raw(s, pending, ec);
        char c[4096];
        while (!ec) {
          size_t n = co_await s.async_read_some(net::buffer(c), tok(ec));
          if (!ec) co_await write_raw(s, std::string(c, n), ec);
        }
        co_return;
      }
      if (target == "/stream") {
        co_await write_raw(s,
                           "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n",
                           ec);
        net::steady_timer t(io_);
        for (int i = 0; i < 1000 && !released_; ++i) {  // at most 10 s
          t.expires_after(10ms);
          co_await t.async_wait(tok(ec));
        }
        co_await write_raw(s, "7\r\nsecond\n\r\n0\r\n\r\n", ec);
        if (ec) co_return;
        continue;
      }
      if (target == "/bad-chunk") {
        co_await write_raw(
            s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n", ec);
        co_return;
      }
      if (target == "/echo" || target == "/echo-chunked") {  // the request body back
        http::response<http::string_body> res{http::status::ok, 11};
        res.body() = req.body();
        res.keep_alive(req.keep_alive());
        if (target == "/echo-chunked") {
          res.chunked(true);
        } else {
          res.prepare_payload();
        }
        co_await http::async_write(s, res, tok(ec));
        if (ec || !req.keep_alive()) co_return;
        continue;
      }
      if (target == "/eof") {
        co_await write_raw(s, "HTTP/1.1 200 OK\r\n\r\nuntil-eof", ec);
        co_return;
      }
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "text/plain");
      res.set("X-Backend", name_);
      res.body() = "backend=" + name_ + " method=" + std::string(req.method_string()) +
                   " target=" + target + " body=" + std::to_string(req.body().size()) + "\n";
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      co_await http::async_write(s, res, tok(ec));
      if (ec || !req.keep_alive()) co_return;
      if (target == "/bye") {
        net::steady_timer t(io_, 50ms);
        co_await t.async_wait(tok(ec));
        co_return;  // closes the connection
      }
    }
  }

  std::string name_;
  net::io_context io_;
  tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::atomic<bool> released_{false};
  mutable std::mutex mu_;
  std::vector<http::request<http::string_body>> seen_;
  std::thread thread_;
};

class TestClient {
 public:
  explicit TestClient(uint16_t port) {
    sock_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestClient() {
    net::post(io_, [this] {
      beast::error_code ec;
      sock_.close(ec);
    });
    guard_.reset();
    io_.stop();
    thread_.join();
  }

  bool send(const std::string& data, std::chrono::milliseconds timeout = 5s) {
    return run([&](auto done) { net::async_write(sock_, net::buffer(data), done); }, timeout)
        .ok;
  }

  // One response; nullopt on timeout, error or a closed connection.
  std::optional<http::response<http::string_body>> response(
      bool head = false, std::chrono::milliseconds timeout = 5s) {
    http::response_parser<http::string_body> p;
    p.skip(head);
    p.body_limit(std::numeric_limits<uint64_t>::max());  // boost::none is broken in 1.74
    if (!run([&](auto done) { http::async_read(sock_, buf_, p, done); }, timeout).ok) {
      return std::nullopt;
    }
    return p.release();
  }

  // Raw bytes until `needle` shows up, the peer closes (eof() then) or `timeout` passes.
  std::string read_until(std::string_view needle, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (raw_.find(needle) == std::string::npos && !eof_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) break;
      char c[4096];
      auto got = run([&](auto done) { sock_.async_read_some(net::buffer(c), done); }, left);
      if (got.timed_out) break;
      if (!got.ok) {
        eof_ = true;
        break;
      }
      raw_.append(c, got.bytes);
    }
    return raw_;
  }
  bool eof() const { return eof_; }

 private:
  struct Outcome {
    bool ok = false;
    bool timed_out = false;
    size_t bytes = 0;
  };

  // Starts an operation on the io thread and waits for it at most `timeout`, cancelling
  // it then (and still waiting for it to end: it refers to the caller's locals). The
  // handler is a plain lambda, so every step of a composed operation (Beast posts one when
  // a pipelined response is already buffered) runs on io_; net::use_future would send
  // such steps to the system thread pool, racing this client's own thread.
  template <class Start>
  Outcome run(Start start, std::chrono::milliseconds timeout) {
    std::promise<std::pair<beast::error_code, size_t>> promise;
    auto result = promise.get_future();
    net::post(io_, [&] {
      start([&promise](beast::error_code ec, size_t n) { promise.set_value({ec, n}); });
    });
    Outcome out;
    if (result.wait_for(timeout) != std::future_status::ready) {
      net::post(io_, [this] {
        beast::error_code ec;
        sock_.cancel(ec);
      });
      out.timed_out = true;
    }
    auto [ec, n] = result.get();
    out.ok = !ec && !out.timed_out;
    out.bytes = n;
    return out;
  }

  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> guard_{io_.get_executor()};
  tcp::socket sock_{io_};
  beast::flat_buffer buf_;
  std::string raw_;
  bool eof_ = false;
  std::thread thread_;
};

inline std::string get(std::string_view host, std::string_view path,
                       std::string_view extra_headers = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: " + std::string(host) + "\r\n" +
         std::string(extra_headers) + "\r\n";
}

inline node::router::RouterOptions test_options() {
  node::router::RouterOptions o;
  o.listen = *gossip::Address::parse("127.0.0.1:0");
  o.threads = 1;
  o.node_name = "n1";
  o.header_timeout = 5s;
  o.response_timeout = 5s;
  o.connect_timeout = 2s;
  return o;
}

inline std::shared_ptr<const node::router::RouteTable> table(
    std::vector<node::router::AppRoutes> apps) {
  return std::make_shared<const node::router::RouteTable>("localhost", std::move(apps));
}

// A port nothing listens on (connections are refused).
inline uint16_t closed_port() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  uint16_t port = a.local_endpoint().port();
  a.close();
  return port;
}

}  // namespace shoal::test::router
