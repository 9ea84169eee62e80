// Router: routing, forwarding headers, pooling, the router's own answers, retries,
// timeouts, update() and traffic(), over real sockets on 127.0.0.1.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <numeric>
#include <thread>
#include <vector>

#include "tests/node/router/router_test_support.h"
#include "tests/support/process.h"

namespace shoal::test::router {
namespace {

using node::router::AppRoutes;
using node::router::Router;
using node::router::RouterOptions;

std::unique_ptr<Router> start(RouterOptions o, std::shared_ptr<const node::router::RouteTable> t) {
  auto r = Router::start(std::move(o), std::move(t));
  REQUIRE(r.ok());
  return std::move(r).value();
}

std::string body_of(const std::optional<http::response<http::string_body>>& res) {
  return res ? res->body() : std::string("<no response>");
}

}  // namespace

TEST_CASE("router sends each Host to its app's backend", "[router]") {
  TestBackend a("a"), b("b");
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {a.backend("web.a")}},
                                             AppRoutes{"beta", {"beta.example.com"}, {b.backend("web.b")}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send(get("alpha.localhost", "/x")));
  auto r1 = c.response();
  REQUIRE(r1);
  CHECK(r1->result_int() == 200);
  CHECK(r1->body().starts_with("backend=a method=GET target=/x"));
  REQUIRE(c.send(get("Beta.Example.com:8080", "/y")));
  auto r2 = c.response();
  REQUIRE(r2);
  CHECK(r2->body().starts_with("backend=b method=GET target=/y"));
  REQUIRE(c.send(get("beta.localhost", "/z")));
  CHECK(body_of(c.response()).starts_with("backend=b"));
}

TEST_CASE("router adds X-Forwarded-* and keeps or makes X-Request-Id", "[router]") {
  TestBackend a("a");
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send(get("alpha.localhost", "/", "X-Forwarded-For: 10.0.0.9\r\nX-Request-Id: abc-123\r\n"
                                             "Connection: keep-alive, X-Secret\r\nX-Secret: s\r\n"
                                             "Proxy-Authorization: x\r\n")));
  REQUIRE(c.response());
  REQUIRE(c.send(get("alpha.localhost", "/2", "X-Request-Id: bad id with spaces\r\n")));
  REQUIRE(c.response());
  auto seen = a.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0]["X-Forwarded-For"] == "10.0.0.9, 127.0.0.1");
  CHECK(seen[0]["X-Forwarded-Proto"] == "http");
  CHECK(seen[0]["X-Forwarded-Host"] == "alpha.localhost");
  CHECK(seen[0]["X-Request-Id"] == "abc-123");
  CHECK(seen[0].count("X-Secret") == 0);  // named by Connection: hop-by-hop
  CHECK(seen[0].count("Proxy-Authorization") == 0);
  CHECK(seen[0].count(http::field::connection) == 0);
  CHECK(seen[1]["X-Forwarded-For"] == "127.0.0.1");
  const std::string generated(seen[1]["X-Request-Id"]);
  CHECK(generated.starts_with("n1-"));
  CHECK(generated != "bad id with spaces");
}

TEST_CASE("router reuses keep-alive connections to a backend", "[router]") {
  TestBackend a("a");
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  for (int i = 0; i < 3; ++i) {  // separate client connections, one backend connection
    TestClient c(router->address().port);
    for (int j = 0; j < 2; ++j) {
      REQUIRE(c.send(get("alpha.localhost", "/k")));
      auto res = c.response();
      REQUIRE(res);
      CHECK(res->result_int() == 200);
    }
  }
  CHECK(a.requests() == 6);
  CHECK(a.connections() == 1);
}

TEST_CASE("router answers an unknown host with 404 naming it, HTML or JSON", "[router]") {
  auto router = start(test_options(), table({}));
  TestClient c(router->address().port);
  REQUIRE(c.send(get("nope.localhost", "/", "Accept: text/html\r\n")));
  auto html = c.response();
  REQUIRE(html);
  CHECK(html->result_int() == 404);
  CHECK(std::string(html->at(http::field::content_type)).starts_with("text/html"));
  CHECK(html->body().find("nope.localhost") != std::string::npos);
  REQUIRE(c.send(get("<b>.localhost", "/", "Accept: application/json\r\n")));  // same connection
  auto json = c.response();
  REQUIRE(json);
  CHECK(json->result_int() == 404);
  auto j = nlohmann::json::parse(json->body());
  CHECK(j["status"] == 404);
  CHECK(j["host"] == "<b>.localhost");
  CHECK(j["error"].get<std::string>().find("<b>.localhost") != std::string::npos);
  REQUIRE(c.send(get("<b>.localhost", "/")));
  CHECK(body_of(c.response()).find("&lt;b&gt;.localhost") != std::string::npos);  // escaped
}

TEST_CASE("router answers an app with no backend 503 with Retry-After", "[router]") {
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send(get("alpha.localhost", "/", "Accept: application/json\r\n")));
  auto res = c.response();
  REQUIRE(res);
  CHECK(res->result_int() == 503);
  CHECK((*res)[http::field::retry_after] == "5");
}

TEST_CASE("router answers 502 when the backend refuses connections", "[router]") {
  node::router::Backend dead{"web.dead", "n1", "127.0.0.1", closed_port(), 1};
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {dead}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send(get("alpha.localhost", "/")));
  auto res = c.response();
  REQUIRE(res);
  CHECK(res->result_int() == 502);
}

TEST_CASE("router retries a GET on another backend and ejects the one that refused", "[router]") {
  const uint16_t dead_port = closed_port();
  TestBackend live("live");
  node::router::Backend dead{"web.dead", "n1", "127.0.0.1", dead_port, 1};
  auto o = test_options();
  o.eject_for = std::chrono::minutes(5);
  auto router = start(o, table({AppRoutes{"alpha", {}, {dead, live.backend("web.live")}}}));
  TestClient c(router->address().port);
  // Each pick is random between the two: in 20 requests the dead one is chosen (p = 1 - 2^-20),
  // refused, and the request retried on the live one.
  for (int i = 0; i < 20; ++i) {
    REQUIRE(c.send(get("alpha.localhost", "/r")));
    auto res = c.response();
    REQUIRE(res);
    CHECK(res->result_int() == 200);
  }
  CHECK(live.requests() == 20);
  // The dead port comes alive, but stays ejected: no request reaches it.
  TestBackend revived("revived", dead_port);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(c.send(get("alpha.localhost", "/r")));
    CHECK(body_of(c.response()).starts_with("backend=live"));
  }
  CHECK(revived.requests() == 0);
}

TEST_CASE("router replaces a pooled connection the backend closed, for GET and for POST",
          "[router]") {
  TestBackend a("a");
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  TestClient c(router->address().port);
  // A GET on a pooled connection the backend has closed is sent again on a new one.
  REQUIRE(c.send(get("alpha.localhost", "/bye")));
  CHECK(body_of(c.response()).starts_with("backend=a"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(c.send(get("alpha.localhost", "/after-get")));
  auto r1 = c.response();
  REQUIRE(r1);
  CHECK(r1->result_int() == 200);
  CHECK(a.connections() == 2);
  // A POST with a body cannot be sent twice: the pool checks the connection first.
  REQUIRE(c.send(get("alpha.localhost", "/bye")));
  CHECK(body_of(c.response()).starts_with("backend=a"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(c.send(
      "POST /after-post HTTP/1.1\r\nHost: alpha.localhost\r\nContent-Length: 3\r\n\r\nabc"));
  auto r2 = c.response();
  REQUIRE(r2);
  CHECK(r2->result_int() == 200);
  CHECK(r2->body().find("target=/after-post body=3") != std::string::npos);
  CHECK(a.connections() == 3);
}

TEST_CASE("router answers 502 to a response whose body is malformed before it sent anything",
          "[router]") {
  TestBackend a("a");
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send(get("alpha.localhost", "/bad-chunk")));
  auto r = c.response();
  REQUIRE(r);
  CHECK(r->result_int() == 502);
  CHECK(r->body().find("sent no valid response") != std::string::npos);
}

TEST_CASE("router answers 504 when the backend does not answer in time", "[router]") {
  TestBackend a("a");
  auto o = test_options();
  o.response_timeout = 300ms;
  auto router = start(o, table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send(get("alpha.localhost", "/hang")));
  auto res = c.response();
  REQUIRE(res);
  CHECK(res->result_int() == 504);
  REQUIRE(c.send(get("alpha.localhost", "/after")));  // the client connection lives on
  CHECK(body_of(c.response()).starts_with("backend=a"));
}

TEST_CASE("router answers 413 to a body over max_body_bytes", "[router]") {
  TestBackend a("a");
  auto o = test_options();
  o.max_body_bytes = 100;
  auto router = start(o, table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  SECTION("declared by Content-Length") {
    TestClient c(router->address().port);
    REQUIRE(c.send("POST /u HTTP/1.1\r\nHost: alpha.localhost\r\nContent-Length: 1000\r\n\r\n"));
    auto res = c.response();
    REQUIRE(res);
    CHECK(res->result_int() == 413);
  }
  SECTION("counted while streaming chunks") {
    TestClient c(router->address().port);
    std::string chunk(80, 'x');
    REQUIRE(c.send("POST /u HTTP/1.1\r\nHost: alpha.localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "50\r\n" + chunk + "\r\n50\r\n" + chunk + "\r\n0\r\n\r\n"));
    auto res = c.response();
    REQUIRE(res);
    CHECK(res->result_int() == 413);
  }
  SECTION("a body within the limit passes") {
    TestClient c(router->address().port);
    REQUIRE(c.send("POST /u HTTP/1.1\r\nHost: alpha.localhost\r\nContent-Length: 5\r\n\r\nhello"));
    CHECK(body_of(c.response()).starts_with("backend=a method=POST target=/u body=5"));
  }
}

TEST_CASE("router answers 431 to an oversized head and 400 to garbage", "[router]") {
  auto o = test_options();
  o.max_header_bytes = 1024;
  auto router = start(o, table({}));
  {
    TestClient c(router->address().port);
    REQUIRE(c.send(get("alpha.localhost", "/", "X-Big: " + std::string(4000, 'x') + "\r\n")));
    auto res = c.response();
    REQUIRE(res);
    CHECK(res->result_int() == 431);
  }
  {
    TestClient c(router->address().port);
    REQUIRE(c.send("NOT HTTP AT ALL\r\n\r\n"));
    auto res = c.response();
    REQUIRE(res);
    CHECK(res->result_int() == 400);
  }
}

TEST_CASE("router answers pipelined requests in order", "[router]") {
  TestBackend a("a");
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send(get("alpha.localhost", "/first") + get("nope.localhost", "/404") +
                 get("alpha.localhost", "/third")));
  auto r1 = c.response();
  auto r2 = c.response();
  auto r3 = c.response();
  REQUIRE(r1);
  REQUIRE(r2);
  REQUIRE(r3);
  CHECK(r1->body().find("target=/first") != std::string::npos);
  CHECK(r2->result_int() == 404);
  CHECK(r3->body().find("target=/third") != std::string::npos);
}

// The kernel spreads connections over the IO threads' SO_REUSEPORT listeners by a hash;
// the acceptors even that out. 24 connections over 4 threads land 6/6/6/6 by the hash
// alone about once in 300 runs.
TEST_CASE("router spreads client connections evenly over its IO threads", "[router]") {
  TestBackend a("a");
  auto o = test_options();
  o.threads = 4;
  auto router = start(o, table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 24; ++i) {
    clients.push_back(std::make_unique<TestClient>(router->address().port));
    REQUIRE(clients.back()->send(get("alpha.localhost", "/c" + std::to_string(i))));
    REQUIRE(clients.back()->response());  // served: its session is counted
  }
  auto counts = router->connections();
  REQUIRE(counts.size() == 4);
  CHECK(counts == std::vector<int>{6, 6, 6, 6});

  clients.resize(12);  // the others close
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  auto total = [&] {
    counts = router->connections();
    return std::accumulate(counts.begin(), counts.end(), 0);
  };
  while (total() != 12 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(total() == 12);
}

TEST_CASE("router switches routes on update()", "[router]") {
  TestBackend a("a"), b("b");
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send(get("alpha.localhost", "/")));
  CHECK(body_of(c.response()).starts_with("backend=a"));
  router->update(table({AppRoutes{"alpha", {}, {b.backend("web.b")}}}));
  REQUIRE(c.send(get("alpha.localhost", "/")));
  CHECK(body_of(c.response()).starts_with("backend=b"));
  router->update(table({}));
  REQUIRE(c.send(get("alpha.localhost", "/")));
  auto gone = c.response();
  REQUIRE(gone);
  CHECK(gone->result_int() == 404);
}

TEST_CASE("router counts traffic per app and instance", "[router]") {
  TestBackend a("a");
  auto o = test_options();
  o.threads = 2;
  const auto dir = make_temp_dir("shoal-access-log");
  o.access_log = (dir / "access.log").string();
  auto router = start(o, table({AppRoutes{"alpha", {}, {a.backend("web.a")}},
                                AppRoutes{"empty", {}, {}}}));
  for (int i = 0; i < 4; ++i) {
    TestClient c(router->address().port);
    REQUIRE(c.send("POST /t HTTP/1.1\r\nHost: alpha.localhost\r\nContent-Length: 3\r\n\r\nabc"));
    REQUIRE(c.response());
  }
  {
    TestClient c(router->address().port);
    REQUIRE(c.send(get("empty.localhost", "/")));
    REQUIRE(c.response());
  }
  // A request is counted once its response is written, which is after the client may
  // already hold that response: wait (bounded) for all five to be counted.
  std::vector<node::router::AppTraffic> traffic;
  const node::router::AppTraffic* alpha = nullptr;
  const node::router::AppTraffic* empty = nullptr;
  for (int attempt = 0; attempt < 100; ++attempt) {
    traffic = router->traffic();
    alpha = empty = nullptr;
    for (const auto& t : traffic) {
      if (t.app == "alpha") alpha = &t;
      if (t.app == "empty") empty = &t;
    }
    if (alpha && empty && alpha->total.requests == 4 && empty->total.requests == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(alpha != nullptr);
  CHECK(alpha->total.requests == 4);
  CHECK(alpha->total.by_status.at(200) == 4);
  CHECK(alpha->total.bytes_in == 12);
  CHECK(alpha->total.bytes_out > 0);
  CHECK(alpha->total.in_flight == 0);
  CHECK(alpha->total.latency_sum_s > 0);
  REQUIRE(alpha->by_instance.count("web.a") == 1);
  CHECK(alpha->by_instance.at("web.a").requests == 4);
  REQUIRE(empty != nullptr);
  CHECK(empty->total.by_status.at(503) == 1);

  // Every request is a line of the access log once the router has stopped (or within a
  // second); the unknown host too, under no app.
  {
    TestClient c(router->address().port);
    REQUIRE(c.send(get("nobody.localhost", "/x")));
    REQUIRE(c.response());
  }
  // ...and counted under kNoApp ("-"), once written.
  bool unrouted = false;
  for (int attempt = 0; attempt < 100 && !unrouted; ++attempt) {
    for (const auto& t : router->traffic()) {
      if (t.app == node::router::kNoApp && t.total.by_status.count(404) == 1) unrouted = true;
    }
    if (!unrouted) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(unrouted);
  router->stop();
  const std::string log = read_file(dir / "access.log");
  std::filesystem::remove_all(dir);
  auto count = [&](std::string_view needle) {
    size_t n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  CHECK(count("\n") == 6);
  CHECK(count("app=alpha instance=web.a method=POST path=/t status=200 bytes_in=3 ") == 4);
  CHECK(count("app=empty instance=- method=GET path=/ status=503 ") == 1);
  CHECK(count("app=- instance=- method=GET path=/x status=404 ") == 1);
  CHECK(count("client=127.0.0.1 host=alpha.localhost") == 4);
  CHECK(log.starts_with("20"));
  CHECK(log.find("Z app=") == 23);  // 2026-12-07T00:06:45.181Z
}

TEST_CASE("router start names the address it cannot bind, and stop is idempotent", "[router]") {
  auto first = start(test_options(), table({}));
  // Another process's port (no SO_REUSEPORT on it): a plain acceptor holds it.
  net::io_context io;
  tcp::acceptor holder(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  auto o = test_options();
  o.listen = *gossip::Address::parse("127.0.0.1:" + std::to_string(holder.local_endpoint().port()));
  auto second = Router::start(o, table({}));
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().message().find(o.listen.to_string()) != std::string::npos);
  first->stop();
  first->stop();
}

}  // namespace shoal::test::router
