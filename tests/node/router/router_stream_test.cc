// Router: what flows rather than bounces — streamed responses, WebSocket tunnels — and
// the client timeouts (slowloris, idle keep-alive), over real sockets on 127.0.0.1.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "tests/node/router/router_test_support.h"

namespace shoal::test::router {
namespace {

using node::router::AppRoutes;
using node::router::Router;

std::unique_ptr<Router> start(node::router::RouterOptions o,
                              std::shared_ptr<const node::router::RouteTable> t) {
  auto r = Router::start(std::move(o), std::move(t));
  REQUIRE(r.ok());
  return std::move(r).value();
}

}  // namespace

TEST_CASE("router passes a chunked response through as it arrives", "[router]") {
  TestBackend a("a");
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send(get("alpha.localhost", "/stream")));
  // The backend holds its second chunk until released: the first must arrive alone.
  std::string got = c.read_until("first\n");
  REQUIRE(got.find("first\n") != std::string::npos);
  CHECK(got.find("HTTP/1.1 200") == 0);
  CHECK(got.find("second") == std::string::npos);
  a.release();
  got = c.read_until("\r\n0\r\n\r\n");
  CHECK(got.find("second\n") != std::string::npos);
  CHECK(got.find("\r\n0\r\n\r\n") != std::string::npos);
}

TEST_CASE("router frames a body that ends at the backend's close as chunks", "[router]") {
  TestBackend a("a");
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send(get("alpha.localhost", "/eof")));
  auto res = c.response();
  REQUIRE(res);
  CHECK(res->body() == "until-eof");
  CHECK(res->chunked());
  REQUIRE(c.send(get("alpha.localhost", "/again")));  // so the client keeps its connection
  auto again = c.response();
  REQUIRE(again);
  CHECK(again->body().find("target=/again") != std::string::npos);
}

// Bodies larger than a relay piece and than a single write, in every framing the router
// translates between: each byte arrives, in order, on the other side.
TEST_CASE("router passes large and chunked bodies through intact, both ways", "[router]") {
  TestBackend a("a");
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  std::string body(300 * 1024, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i * 7 % 26);
  const std::string length = "Content-Length: " + std::to_string(body.size()) + "\r\n";

  SECTION("a Content-Length body to the backend and back") {
    TestClient c(router->address().port);
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: alpha.localhost\r\n" + length + "\r\n" + body));
    auto res = c.response();
    REQUIRE(res);
    CHECK(res->result_int() == 200);
    CHECK(res->body() == body);
  }
  SECTION("a chunked request body, passed on in chunks and reassembled by the backend") {
    TestClient c(router->address().port);
    std::string chunked;
    size_t at = 0;
    for (size_t size : {size_t{1}, size_t{5000}, size_t{70000}, body.size() - 75001}) {
      char line[32];
      std::snprintf(line, sizeof line, "%zx\r\n", size);
      chunked += line + body.substr(at, size) + "\r\n";
      at += size;
    }
    chunked += "0\r\n\r\n";
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: alpha.localhost\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n" + chunked));
    auto res = c.response();
    REQUIRE(res);
    CHECK(res->body() == body);
  }
  SECTION("a chunked response to an HTTP/1.1 client stays chunked") {
    TestClient c(router->address().port);
    REQUIRE(c.send("POST /echo-chunked HTTP/1.1\r\nHost: alpha.localhost\r\n" + length +
                   "\r\n" + body));
    auto res = c.response();
    REQUIRE(res);
    CHECK(res->chunked());
    CHECK(res->body() == body);
    REQUIRE(c.send(get("alpha.localhost", "/after")));  // the connection is still usable
    auto after = c.response();
    REQUIRE(after);
    CHECK(after->body().find("target=/after") != std::string::npos);
  }
  SECTION("a chunked response to an HTTP/1.0 client is unchunked and ends at the close") {
    TestClient c(router->address().port);
    REQUIRE(c.send("POST /echo-chunked HTTP/1.0\r\nHost: alpha.localhost\r\n" + length +
                   "\r\n" + body));
    const std::string raw = c.read_until("\n\n\n never \n\n", 10s);  // to the close
    CHECK(c.eof());
    REQUIRE(raw.starts_with("HTTP/1.0 200 OK\r\n"));
    const size_t head_end = raw.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    const std::string head = raw.substr(0, head_end);
    CHECK(head.find("chunked") == std::string::npos);
    CHECK(raw.substr(head_end + 4) == body);
  }
}

TEST_CASE("router answers HEAD with the head only", "[router]") {
  TestBackend a("a");
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send("HEAD /h HTTP/1.1\r\nHost: alpha.localhost\r\n\r\n"));
  auto res = c.response(/*head=*/true);
  REQUIRE(res);
  CHECK(res->result_int() == 200);
  REQUIRE(c.send(get("alpha.localhost", "/next")));
  auto next = c.response();
  REQUIRE(next);
  CHECK(next->body().find("target=/next") != std::string::npos);
}

TEST_CASE("router tunnels a WebSocket upgrade both ways", "[router]") {
  TestBackend a("a");
  auto router = start(test_options(), table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send("GET /ws HTTP/1.1\r\nHost: alpha.localhost\r\nConnection: Upgrade\r\n"
                 "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nearly-bytes|"));
  std::string got = c.read_until("early-bytes|");
  CHECK(got.find("HTTP/1.1 101") == 0);
  CHECK(got.find("early-bytes|") != std::string::npos);  // sent with the head, echoed
  REQUIRE(c.send("ping-1|"));
  got = c.read_until("ping-1|");
  CHECK(got.find("ping-1|") != std::string::npos);
  auto seen = a.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0][http::field::upgrade] == "websocket");
  CHECK(seen[0]["Sec-WebSocket-Key"] == "dGhlIHNhbXBsZSBub25jZQ==");
}

TEST_CASE("router cuts a slowloris client off at header_timeout and serves others", "[router]") {
  TestBackend a("a");
  auto o = test_options();
  o.header_timeout = 400ms;
  auto router = start(o, table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  TestClient slow(router->address().port);
  REQUIRE(slow.send("GET / HTTP/1.1\r\nHost: alpha.localhost\r\n"));
  const auto began = std::chrono::steady_clock::now();
  bool served_other = false;
  for (int i = 0; i < 40; ++i) {  // trickle a header line every 50 ms, for up to 2 s
    if (!slow.send("X-" + std::to_string(i) + ": y\r\n", 1s)) break;
    if (i == 2) {
      TestClient normal(router->address().port);
      REQUIRE(normal.send(get("alpha.localhost", "/normal")));
      auto res = normal.response();
      REQUIRE(res);
      served_other = res->result_int() == 200;
    }
    std::this_thread::sleep_for(50ms);
    if (std::chrono::steady_clock::now() - began > 2s) break;
  }
  CHECK(served_other);
  std::string got = slow.read_until("never-there", 3s);
  CHECK(got.find("HTTP/1.1 408") == 0);
  CHECK(slow.eof());
  CHECK(a.requests() == 1);  // only the normal client's request reached the app
}

TEST_CASE("router closes an idle keep-alive client after idle_timeout", "[router]") {
  TestBackend a("a");
  auto o = test_options();
  o.idle_timeout = 300ms;
  auto router = start(o, table({AppRoutes{"alpha", {}, {a.backend("web.a")}}}));
  TestClient c(router->address().port);
  REQUIRE(c.send(get("alpha.localhost", "/")));
  REQUIRE(c.response());
  c.read_until("never-there", 3s);
  CHECK(c.eof());
}

}  // namespace shoal::test::router
