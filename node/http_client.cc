#include "node/http_client.h"

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <vector>

#include "node/secure/handshake.h"
#include "node/secure/node_keys.h"
#include "node/secure/secure_stream.h"
#include "node/tls/fingerprint.h"

namespace shoal::node {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr auto kConnectTimeoutMax = std::chrono::seconds(3);
constexpr uint64_t kBodyLimit = uint64_t{1} << 30;
constexpr size_t kUploadPiece = 64 * 1024;

// Runs one async operation on a private io_context to completion. Beast's stream
// timeouts apply only to async operations, so a blocking client is built from them.
template <typename Start>
beast::error_code run_op(net::io_context& io, Start&& start) {
  beast::error_code result = net::error::would_block;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

// The TCP stream under `s`: where timeouts are set and the socket is shut down.
beast::tcp_stream& tcp_of(beast::tcp_stream& s) { return s; }
beast::tcp_stream& tcp_of(secure::SecureStream<beast::tcp_stream>& s) { return s.next_layer(); }
beast::tcp_stream& tcp_of(ssl::stream<beast::tcp_stream>& s) { return s.next_layer(); }

std::string describe(beast::error_code ec, const char* stage) {
  if (ec == beast::error::timeout) return std::string(stage) + " timed out";
  if (ec == net::error::connection_refused) return "connection refused";
  return std::string(stage) + " failed: " + ec.message();
}


// Upload mode: the header, then the body in pieces pulled from ex.body_reader. Transport
// errors land in `ec`; an error of the reader (or a reader that ends early) is returned.
template <typename Stream, typename SetCommon>
Status send_streamed_body(net::io_context& io, Stream& stream,
                          const HttpExchange& ex, SetCommon& set_common,
                          beast::error_code& ec) {
  http::request<http::buffer_body> req{http::string_to_verb(ex.method), ex.target, 11};
  set_common(req);
  req.set(http::field::content_type, ex.content_type);
  req.content_length(ex.body_size);
  req.body().data = nullptr;
  req.body().more = true;
  http::request_serializer<http::buffer_body> sr{req};
  tcp_of(stream).expires_after(ex.timeout);
  ec = run_op(io, [&](auto handler) { http::async_write_header(stream, sr, handler); });
  std::vector<char> piece(kUploadPiece);
  uint64_t sent = 0;
  while (!ec && sent < ex.body_size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(piece.size(), ex.body_size - sent));
    auto n = ex.body_reader(std::span<char>(piece.data(), want));
    if (!n.ok()) return n.status();
    if (*n == 0 || *n > want) {
      return Status::invalid_argument("the upload's body ended after " + std::to_string(sent) +
                                      " of " + std::to_string(ex.body_size) + " bytes");
    }
    req.body().data = piece.data();
    req.body().size = *n;
    req.body().more = true;
    tcp_of(stream).expires_after(ex.timeout);
    ec = run_op(io, [&](auto handler) { http::async_write(stream, sr, handler); });
    if (ec == http::error::need_buffer) ec = {};
    if (ec) break;
    sent += *n;
    if (ex.on_body_sent) ex.on_body_sent(sent);
  }
  if (!ec) {
    req.body().data = nullptr;
    req.body().size = 0;
    req.body().more = false;
    tcp_of(stream).expires_after(ex.timeout);
    ec = run_op(io, [&](auto handler) { http::async_write(stream, sr, handler); });
  }
  return Status();
}

// Reads the answer into `out`: whole, or (ex.on_body set) piece by piece into on_body.
// `timeout` bounds the whole read, or in stream mode each piece.
template <typename Stream>
beast::error_code read_answer(net::io_context& io, Stream& stream,
                              const HttpExchange& ex, Duration timeout, HttpResponse& out) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  if (!ex.on_body) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    if (ex.method == "HEAD") parser.skip(true);  // Content-Length, no body
    tcp_of(stream).expires_after(timeout);
    ec = run_op(io, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
    if (ec) return ec;
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) out.headers.emplace(f.name_string(), f.value());
    out.body = std::move(res.body());
    return {};
  }

  // Stream mode: hand each piece of the body over as it arrives.
  http::response_parser<http::buffer_body> parser;
  // Not boost::none: Boost 1.74 compares a Content-Length against an empty optional as
  // "greater", so every sized answer would fail with body_limit.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  tcp_of(stream).expires_after(timeout);
  ec = run_op(io, [&](auto handler) { http::async_read_header(stream, buffer, parser, handler); });
  if (ec) return ec;
  out.status = static_cast<int>(parser.get().result_int());
  for (const auto& f : parser.get()) out.headers.emplace(f.name_string(), f.value());
  if (ex.on_headers && !ex.on_headers(out)) {
    beast::error_code ignored;
    tcp_of(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    return {};
  }
  // Beast reads at most the buffer's free capacity, and it stays the size the header
  // needed (~1 KiB): without room, a large body arrives in a hundred thousand reads.
  buffer.reserve(256 * 1024);
  char piece[64 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = piece;
    parser.get().body().size = sizeof(piece);
    tcp_of(stream).expires_after(timeout);
    // read_some, not read: read would wait to fill the whole piece, and a stream's
    // events are small and far apart.
    ec = run_op(io, [&](auto handler) { http::async_read_some(stream, buffer, parser, handler); });
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
          ec == ssl::error::stream_truncated) {
        break;
      }
      return ec;
    }
    const size_t n = sizeof(piece) - parser.get().body().size;
    if (n > 0 && !ex.on_body(std::string_view(piece, n))) break;
  }
  beast::error_code ignored;
  tcp_of(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
  return {};
}
// The request and its answer over `stream`, connected (and through the handshake).
template <typename Stream>
Result<HttpResponse> exchange(net::io_context& io, Stream& stream, const HttpExchange& ex,
                              const std::string& where) {
  auto fail = [&](const std::string& what) -> Status {
    return Status::unavailable("cannot reach " + where + ": " + what);
  };
  auto set_common = [&](auto& req) {
    if (req.method() == http::verb::unknown) req.method_string(ex.method);
    req.set(http::field::host, where);
    req.set(http::field::user_agent, "shoal");
    req.keep_alive(false);
    for (const auto& [k, v] : ex.headers) req.set(k, v);
  };
  beast::error_code send_ec;
  if (!ex.body_reader) {
    http::request<http::string_body> req{http::string_to_verb(ex.method), ex.target, 11};
    set_common(req);
    if (!ex.body.empty() || ex.method == "POST" || ex.method == "PUT") {
      req.set(http::field::content_type, ex.content_type);
      req.body() = ex.body;
    }
    req.prepare_payload();
    tcp_of(stream).expires_after(ex.timeout);
    send_ec = run_op(io, [&](auto handler) { http::async_write(stream, req, handler); });
  } else {
    auto sent = send_streamed_body(io, stream, ex, set_common, send_ec);
    if (!sent.ok()) return sent;  // the reader failed: its error, as it said it
  }

  HttpResponse out;
  if (send_ec) {
    // A server that refuses an upload may answer and close before reading it all: its
    // answer says more than the broken pipe does, so look for one, briefly.
    if (read_answer(io, stream, ex, std::min<Duration>(ex.timeout, kConnectTimeoutMax), out)) {
      return fail(describe(send_ec, "sending the request"));
    }
    return out;
  }
  beast::error_code ec = read_answer(io, stream, ex, ex.timeout, out);
  if (ec) return fail(describe(ec, "reading the answer"));
  return out;
}

// The channel handshake (node/secure/handshake.h) as the dialing side.
Result<std::unique_ptr<secure::Session>> handshake(net::io_context& io, beast::tcp_stream& stream,
                                                   const secure::Keyring& ring, Duration timeout) {
  secure::ClientHandshake hs(ring.primary());
  stream.expires_after(timeout);
  auto ec = run_op(io, [&](auto handler) {
    net::async_write(stream, net::buffer(hs.hello().data(), hs.hello().size()), handler);
  });
  if (ec) return Status::unavailable(describe(ec, "sending the channel handshake"));
  std::array<uint8_t, secure::kHelloBytes> answer{};
  stream.expires_after(timeout);
  size_t got = 0;
  ec = run_op(io, [&](auto handler) {
    net::async_read(stream, net::buffer(answer), [&got, handler](beast::error_code e, size_t n) {
      got = n;
      handler(e, n);
    });
  });
  if (ec && !(ec == net::error::eof && secure::is_refusal(ByteView(answer.data(), got)))) {
    return Status::unavailable(describe(ec, "reading the channel handshake") +
                               " (is it a Shoal node's --rpc port?)");
  }
  return hs.finish(ByteView(answer.data(), got));
}
// The exchange over TLS (HttpExchange::tls): the handshake, the caller's verdict on the
// server's certificate, then the request.
Result<HttpResponse> over_tls(net::io_context& io, beast::tcp_stream& stream,
                              const std::string& host, const HttpExchange& ex,
                              const std::string& where) {
  auto fail = [&](const std::string& what) -> Status {
    return Status::unavailable("cannot reach " + where + ": " + what);
  };
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  beast::error_code ec;
  if (ex.tls->ca_file.empty()) {
    ctx.set_default_verify_paths(ec);  // no system store: nothing verifies; pins still work
  } else {
    ctx.load_verify_file(ex.tls->ca_file, ec);
    if (ec) {
      return Status::invalid_argument("cannot load the CA certificates in " + ex.tls->ca_file +
                                      ": " + ec.message());
    }
  }
  // The handshake goes on whatever the chain says; the verdict is the caller's (a pinned
  // self-signed certificate never verifies), taken below from SSL_get_verify_result.
  ctx.set_verify_mode(ssl::verify_none);
  ssl::stream<beast::tcp_stream> tls_stream(std::move(stream), ctx);
  SSL* native = tls_stream.native_handle();
  beast::error_code ip_ec;
  net::ip::make_address(host, ip_ec);
  if (ip_ec) {
    SSL_set_tlsext_host_name(native, host.c_str());
    SSL_set1_host(native, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), host.c_str());
  }
  tls_stream.next_layer().expires_after(std::min<Duration>(ex.timeout, kConnectTimeoutMax));
  ec = run_op(io, [&](auto handler) {
    tls_stream.async_handshake(ssl::stream_base::client, handler);
  });
  if (ec) return fail(describe(ec, "the TLS handshake"));

  TlsPeer peer;
  std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get1_peer_certificate(native), X509_free);
  if (!cert) return fail("the server sent no TLS certificate");
  peer.fingerprint = tls::fingerprint(cert.get());
  const long verdict = SSL_get_verify_result(native);
  peer.verified = verdict == X509_V_OK;
  if (!peer.verified) peer.verify_error = X509_verify_cert_error_string(verdict);
  if (ex.tls->accept) {
    SHOAL_RETURN_IF_ERROR(ex.tls->accept(peer));
  } else if (!peer.verified) {
    return fail("its TLS certificate is not trusted (" + peer.verify_error + ")");
  }
  return exchange(io, tls_stream, ex, where);
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

Result<HttpResponse> http_request(const std::string& host, int port, const HttpExchange& ex) {
  const std::string where = host + ":" + std::to_string(port);
  auto fail = [&](const std::string& what) -> Status {
    return Status::unavailable("cannot reach " + where + ": " + what);
  };
  net::io_context io;
  tcp::resolver resolver(io);
  beast::error_code ec;
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return fail("cannot resolve '" + host + "': " + ec.message());

  beast::tcp_stream stream(io);
  stream.expires_after(std::min<Duration>(ex.timeout, kConnectTimeoutMax));
  ec = run_op(io, [&](auto handler) { stream.async_connect(endpoints, handler); });
  if (ec) return fail(describe(ec, "connect"));
  stream.socket().set_option(tcp::no_delay(true), ec);
  if (ex.tls) return over_tls(io, stream, host, ex, where);
  if (!ex.keys) return exchange(io, stream, ex, where);

  auto session = handshake(io, stream, *ex.keys, std::min<Duration>(ex.timeout, kConnectTimeoutMax));
  if (!session.ok()) {
    secure::channel_counters().dial_failures.inc();
    return fail("node-to-node channel: " + session.status().message());
  }
  secure::SecureStream<beast::tcp_stream> secured(stream, **session);
  auto out = exchange(io, secured, ex, where);
  if (!secured.error().ok()) {
    secure::channel_counters().records_rejected.inc();
    return fail("node-to-node channel: " + secured.error().message());
  }
  return out;
}

}  // namespace shoal::node
