// BackendPool (node/router/backend_pool.h): idle connections are handed out newest first
// and bounded per backend; a connection the backend closed is skipped when the caller asks
// for the check; drop_idle, eject and forget_missing; pick() prefers backends not ejected
// and with fewer requests outstanding. Real sockets on 127.0.0.1.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include <chrono>
#include <thread>
#include <vector>

#include "node/router/backend_pool.h"

namespace shoal::test::router {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using node::router::Backend;
using node::router::BackendPool;

struct Sockets {
  net::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
  std::vector<tcp::socket> server_ends;

  // A connected client socket; its server end is kept (closing it is the "backend" closing).
  tcp::socket connect() {
    tcp::socket s(io);
    s.connect(acceptor.local_endpoint());
    server_ends.push_back(acceptor.accept());
    return s;
  }
};

Backend backend(uint16_t port) {
  return Backend{"web." + std::to_string(port), "n1", "127.0.0.1", port, 1};
}

}  // namespace

TEST_CASE("backend pool: newest idle connection first, bounded per backend", "[router]") {
  Sockets s;
  BackendPool pool(2, 1000ms, 1);
  const auto now = BackendPool::Clock::now();
  const Backend a = backend(1001);
  CHECK_FALSE(pool.take_idle(a, now, false));
  std::vector<int> fds;
  for (int i = 0; i < 3; ++i) {
    auto c = s.connect();
    fds.push_back(c.native_handle());
    pool.give_back(a, std::move(c), now);
  }
  CHECK(pool.idle_count(a) == 2);  // the oldest went
  auto first = pool.take_idle(a, now, false);
  REQUIRE(first);
  CHECK(first->native_handle() == fds[2]);
  // A copy of the backend (a new route table) finds the same state: keyed by host:port.
  const Backend same = a;
  auto second = pool.take_idle(same, now, true);
  REQUIRE(second);
  CHECK(second->native_handle() == fds[1]);
  CHECK_FALSE(pool.take_idle(a, now, false));
}

TEST_CASE("backend pool: a connection the backend closed is skipped when checked", "[router]") {
  Sockets s;
  BackendPool pool(8, 1000ms, 1);
  const auto now = BackendPool::Clock::now();
  const Backend a = backend(1002);
  pool.give_back(a, s.connect(), now);  // [0]: stays open
  pool.give_back(a, s.connect(), now);  // [1]: the backend closes it
  s.server_ends[1].close();
  std::this_thread::sleep_for(50ms);  // the FIN reaches the client end
  auto open = pool.take_idle(a, now, true);
  REQUIRE(open);  // [1] was skipped and closed, [0] handed out
  CHECK(pool.idle_count(a) == 0);

  // Unchecked, the closed one is handed out: the caller finds out by using it.
  pool.give_back(a, std::move(*open), now);
  pool.give_back(a, s.connect(), now);  // [2]
  s.server_ends[2].close();
  std::this_thread::sleep_for(50ms);
  auto unchecked = pool.take_idle(a, now, false);
  REQUIRE(unchecked);
  CHECK(pool.idle_count(a) == 1);
  pool.drop_idle(a);  // ...and then drops the rest
  CHECK(pool.idle_count(a) == 0);

  // Idle past kIdleMax: never handed out.
  pool.give_back(a, s.connect(), now);
  CHECK_FALSE(pool.take_idle(a, now + BackendPool::kIdleMax + 1s, false));
}

TEST_CASE("backend pool: pick avoids ejected and busy backends, forget_missing", "[router]") {
  Sockets s;
  BackendPool pool(8, 1000ms, 7);
  const auto now = BackendPool::Clock::now();
  std::vector<Backend> backends{backend(2001), backend(2002)};
  pool.eject(backends[0], now);
  CHECK(pool.ejected(backends[0], now));
  CHECK_FALSE(pool.ejected(backends[0], now + 2s));
  for (int i = 0; i < 20; ++i) CHECK(pool.pick(backends, {}, now) == &backends[1]);
  // All untried ones ejected: picked anyway (an ejection is a guess).
  const std::vector<const Backend*> second_tried{&backends[1]};
  CHECK(pool.pick(backends, second_tried, now) == &backends[0]);
  const std::vector<const Backend*> both_tried{&backends[0], &backends[1]};
  CHECK(pool.pick(backends, both_tried, now) == nullptr);

  // Two choices among two: the one with fewer requests outstanding.
  pool.started(backends[1]);
  pool.started(backends[1]);
  CHECK(pool.outstanding(backends[1]) == 2);
  for (int i = 0; i < 20; ++i) CHECK(pool.pick(backends, {}, now + 2s) == &backends[0]);
  pool.finished(backends[1]);
  pool.finished(backends[1]);
  pool.finished(backends[1]);  // one too many: stays at zero
  CHECK(pool.outstanding(backends[1]) == 0);

  // A table without a backend drops its state; one still busy keeps its count.
  pool.give_back(backends[0], s.connect(), now);
  pool.started(backends[1]);
  pool.forget_missing(node::router::RouteTable("localhost", {}));
  CHECK(pool.idle_count(backends[0]) == 0);
  CHECK(pool.outstanding(backends[1]) == 1);
}

}  // namespace shoal::test::router
