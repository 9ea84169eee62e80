// Tests of the router's TLS termination (node/router/tls.h, --router-tls): a certificate
// pair is checked with errors that name the problem, and a real TLS client (Asio over
// OpenSSL, verifying the router against the certificate) reaches an app by SNI, gets the
// certificate of the name it asked for, is refused for a name without one, and passes a
// WebSocket through. Backends are real sockets on 127.0.0.1 (router_test_support.h).
#include <catch2/catch.hpp>

#include <boost/asio/ssl.hpp>

#include "node/router/router.h"
#include "node/router/tls.h"
#include "tests/node/router/router_test_support.h"
#include "tests/support/tls_cert.h"

namespace shoal::test::router {
namespace {

namespace ssl = net::ssl;
using node::router::AppRoutes;
using node::router::RouteTable;
using node::router::TlsPem;

// One TLS connection to the router, verifying it against `trusted` for `server_name`. Every
// step runs the io_context at most `timeout`, so a router that does not answer fails the
// test instead of hanging it.
class TlsClient {
 public:
  TlsClient(uint16_t port, const std::string& server_name, const TlsPem& trusted)
      : ctx_(ssl::context::tls_client), stream_(io_, ctx_) {
    ctx_.add_certificate_authority(net::buffer(trusted.cert));
    // On the stream: it was made from ctx_ before these lines, and took ctx_'s mode then.
    stream_.set_verify_mode(ssl::verify_peer);
    SSL_set_tlsext_host_name(stream_.native_handle(), server_name.c_str());
    stream_.set_verify_callback(ssl::host_name_verification(server_name));
    beast::error_code ec;
    stream_.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    if (ec) {
      error_ = "connect: " + ec.message();
      return;
    }
    stream_.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    if (!run() || ec) error_ = "handshake: " + (ec ? ec.message() : std::string("timed out"));
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // The subject CN of the certificate the router presented.
  std::string peer_name() {
    X509* cert = SSL_get1_peer_certificate(stream_.native_handle());
    if (!cert) return "";
    char cn[256] = {0};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    X509_free(cert);
    return cn;
  }

  bool send(const std::string& bytes) {
    beast::error_code ec;
    net::async_write(stream_, net::buffer(bytes), [&](beast::error_code e, size_t) { ec = e; });
    return run() && !ec;
  }

  std::optional<http::response<http::string_body>> response() {
    http::response<http::string_body> res;
    beast::error_code ec;
    http::async_read(stream_, buf_, res, [&](beast::error_code e, size_t) { ec = e; });
    if (!run() || ec) return std::nullopt;
    return res;
  }

  // The error that ends the stream once the router closes it: eof when it sent TLS's
  // close_notify first, stream_truncated when it only dropped the connection.
  beast::error_code read_to_end() {
    beast::error_code ec;
    for (int i = 0; i < 100 && !ec; ++i) {
      char c[4096];
      stream_.async_read_some(net::buffer(c), [&](beast::error_code e, size_t) { ec = e; });
      if (!run()) return net::error::timed_out;
    }
    return ec;
  }

  // Raw bytes until `needle` shows up (or the timeout).
  std::string read_until(std::string_view needle) {
    std::string got = beast::buffers_to_string(buf_.data());
    buf_.consume(buf_.size());
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      char c[4096];
      beast::error_code ec;
      size_t n = 0;
      stream_.async_read_some(net::buffer(c), [&](beast::error_code e, size_t k) {
        ec = e;
        n = k;
      });
      if (!run() || ec) break;
      got.append(c, n);
    }
    return got;
  }

 private:
  // Runs the pending operation to its end; false (and the socket closed) on timeout.
  bool run(std::chrono::milliseconds timeout = 5s) {
    io_.restart();
    io_.run_for(timeout);
    if (io_.stopped()) return true;
    beast::error_code ignored;
    stream_.next_layer().close(ignored);
    io_.restart();
    io_.run_for(1s);  // let the aborted handler run: it refers to the caller's locals
    return false;
  }

  net::io_context io_;
  ssl::context ctx_;
  ssl::stream<tcp::socket> stream_;
  beast::flat_buffer buf_;
  std::string error_;
};

std::shared_ptr<const RouteTable> tls_table(std::vector<AppRoutes> apps,
                                            RouteTable::TlsMap certificates) {
  return std::make_shared<const RouteTable>(
      "localhost", std::move(apps), std::make_shared<const RouteTable::TlsMap>(std::move(certificates)));
}

std::unique_ptr<node::router::Router> start_tls(std::shared_ptr<const RouteTable> routes) {
  auto o = test_options();
  o.tls_listen = *gossip::Address::parse("127.0.0.1:0");
  auto r = node::router::Router::start(o, std::move(routes));
  REQUIRE(r.ok());
  REQUIRE((*r)->tls_address().valid());
  return std::move(*r);
}

}  // namespace

TEST_CASE("tls: inspect_tls accepts a pair and names what is wrong with a bad one",
          "[router][tls]") {
  const auto good = make_self_signed({"secure.test", "www.secure.test"});
  auto info = node::router::inspect_tls(good, "www.secure.test");
  REQUIRE(info.ok());
  CHECK(info->names == std::vector<std::string>{"secure.test", "www.secure.test"});
  CHECK(!info->expired);
  CHECK(info->not_after.size() == 20);  // 2026-12-06T12:00:00Z

  const auto other = make_self_signed({"other.test"});
  auto mismatched = node::router::inspect_tls(TlsPem{good.cert, other.key});
  REQUIRE(!mismatched.ok());
  CHECK_THAT(mismatched.status().message(), Catch::Contains("does not belong to the certificate"));

  auto wrong_host = node::router::inspect_tls(good, "nope.test");
  REQUIRE(!wrong_host.ok());
  CHECK_THAT(wrong_host.status().message(),
             Catch::Contains("does not name nope.test") && Catch::Contains("secure.test"));

  auto garbage = node::router::inspect_tls(TlsPem{"hello", good.key});
  REQUIRE(!garbage.ok());
  CHECK_THAT(garbage.status().message(), Catch::Contains("not a PEM certificate"));
  auto no_key = node::router::inspect_tls(TlsPem{good.cert, "-----BEGIN PRIVATE KEY-----\nAAAA\n"});
  REQUIRE(!no_key.ok());
  CHECK_THAT(no_key.status().message(), Catch::Contains("not an unencrypted PEM private key"));

  auto expired = node::router::inspect_tls(make_self_signed({"old.test"}, std::chrono::hours(-1)));
  REQUIRE(expired.ok());
  CHECK(expired->expired);
}

TEST_CASE("tls: the router terminates TLS by SNI and forwards with X-Forwarded-Proto https",
          "[router][tls]") {
  TestBackend a("a");
  const auto secure = make_self_signed({"secure.test"});
  const auto other = make_self_signed({"other.test"});
  auto router = start_tls(
      tls_table({AppRoutes{"alpha", {"secure.test"}, {a.backend("web.a")}},
                 AppRoutes{"beta", {"other.test"}, {a.backend("web.b")}}},
                {{"secure.test", secure}, {"other.test", other}}));
  const uint16_t port = router->tls_address().port;

  TlsClient c(port, "secure.test", secure);
  REQUIRE(c.ok());
  CHECK(c.peer_name() == "secure.test");
  REQUIRE(c.send(get("secure.test", "/hello")));
  auto r = c.response();
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK_THAT(r->body(), Catch::Contains("target=/hello"));
  // Keep-alive over TLS: a second request on the same connection.
  REQUIRE(c.send(get("secure.test", "/again")));
  auto r2 = c.response();
  REQUIRE(r2);
  CHECK_THAT(r2->body(), Catch::Contains("target=/again"));
  auto seen = a.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0]["X-Forwarded-Proto"] == "https");
  // The router ends a connection it closes with close_notify: the client can tell the
  // end from a truncation.
  REQUIRE(c.send(get("secure.test", "/last", "Connection: close\r\n")));
  REQUIRE(c.response());
  CHECK(c.read_to_end() == net::error::eof);

  // Each name gets its own certificate (the client verifies it).
  TlsClient o(port, "other.test", other);
  REQUIRE(o.ok());
  CHECK(o.peer_name() == "other.test");

  // A name with no certificate fails the handshake; the plain listener is unaffected.
  TlsClient unknown(port, "unknown.test", secure);
  CHECK(!unknown.ok());
  TestClient plain(router->address().port);
  REQUIRE(plain.send(get("secure.test", "/plain")));
  auto p = plain.response();
  REQUIRE(p);
  CHECK(p->result_int() == 200);
  CHECK(a.seen().back()["X-Forwarded-Proto"] == "http");
}

TEST_CASE("tls: certificates follow update(), and a bad pair is skipped, not fatal",
          "[router][tls]") {
  TestBackend a("a");
  const auto first = make_self_signed({"secure.test"});
  auto router = start_tls(
      tls_table({AppRoutes{"alpha", {"secure.test"}, {a.backend("web.a")}}}, {{"secure.test", first}}));
  const uint16_t port = router->tls_address().port;
  REQUIRE(TlsClient(port, "secure.test", first).ok());

  // A renewed certificate serves new connections; the old one no longer verifies.
  const auto renewed = make_self_signed({"secure.test"});
  const auto late = make_self_signed({"late.test"});
  router->update(tls_table({AppRoutes{"alpha", {"secure.test", "late.test"}, {a.backend("web.a")}}},
                           {{"secure.test", renewed},
                            {"late.test", late},
                            {"broken.test", TlsPem{renewed.cert, late.key}}}));
  CHECK(!TlsClient(port, "secure.test", first).ok());
  TlsClient c(port, "secure.test", renewed);
  REQUIRE(c.ok());
  REQUIRE(c.send(get("secure.test", "/")));
  auto r = c.response();
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(TlsClient(port, "late.test", late).ok());
  CHECK(!TlsClient(port, "broken.test", renewed).ok());

  // Removed: refused.
  router->update(tls_table({AppRoutes{"alpha", {"secure.test"}, {a.backend("web.a")}}}, {}));
  CHECK(!TlsClient(port, "secure.test", renewed).ok());
}

TEST_CASE("tls: a WebSocket passes through the TLS listener", "[router][tls]") {
  TestBackend a("a");
  const auto secure = make_self_signed({"secure.test"});
  auto router = start_tls(tls_table({AppRoutes{"alpha", {"secure.test"}, {a.backend("web.a")}}},
                                    {{"secure.test", secure}}));
  TlsClient c(router->tls_address().port, "secure.test", secure);
  REQUIRE(c.ok());
  REQUIRE(c.send(get("secure.test", "/ws", "Upgrade: websocket\r\nConnection: Upgrade\r\n") +
                 "early-bytes|"));
  std::string got = c.read_until("early-bytes|");
  CHECK_THAT(got, Catch::StartsWith("HTTP/1.1 101"));
  CHECK_THAT(got, Catch::Contains("early-bytes|"));
  REQUIRE(c.send("ping-1|"));
  CHECK_THAT(c.read_until("ping-1|"), Catch::Contains("ping-1|"));
}

}  // namespace shoal::test::router
