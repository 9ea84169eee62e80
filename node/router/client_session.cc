// node/router/client_session.cc
#include "node/router/client_session.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "node/router/body_relay.h"
#include "node/router/forwarder.h"
#include "node/router/proxy_headers.h"

namespace shoal::node::router {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

auto tok(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

constexpr size_t kFirstRead = 4096;
constexpr std::chrono::milliseconds kTlsCloseWait{1000};  // for the client's close_notify

}  // namespace

ClientSession::ClientSession(Worker& w, ClientStream s, std::shared_ptr<const TlsContexts> tls)
    : worker(w),
      stream(std::move(s)),
      backend_deadline(stream.get_executor()),
      deadline_(stream.get_executor()),
      tls_(std::move(tls)) {
  beast::error_code ec;
  auto ep = stream.socket().remote_endpoint(ec);
  ip = ec ? std::string("?") : ep.address().to_string();
  stream.socket().set_option(tcp::no_delay(true), ec);
  stream.socket().non_blocking(true, ec);  // MessageWriter tries each write without waiting
  deadline_.watch(&stream.socket());
  if (stream.tls()) attach(stream.tls_stream().native_handle(), tls_.get());
}

net::awaitable<bool> ClientSession::write(http::response<http::string_body>& res) {
  beast::error_code ec;
  arm(worker.options().idle_timeout);
  co_await http::async_write(stream, res, tok(ec));
  disarm();
  co_return !ec;
}

net::awaitable<void> ClientSession::run(std::shared_ptr<ClientSession> self) {
  const bool tls = self->stream.tls();
  if (!tls || co_await self->handshake()) {
    bool first = true;
    while (co_await self->serve_one(first)) first = false;
    // TLS says where its stream ends (close_notify), so that a client can tell the end of
    // a response that runs to the close from a cut connection. Bounded: a client that
    // neither answers nor closes is not waited for past kTlsCloseWait. A tunnel took the
    // stream (tls() is false on what is left).
    if (tls && self->stream.tls()) {
      beast::error_code ec;
      self->arm(kTlsCloseWait);
      co_await self->stream.tls_stream().async_shutdown(tok(ec));
    }
  }
  self->disarm();
  self->stream.shutdown_send();
  self->stream.close();
}

// The TLS handshake, within header_timeout; false: no connection to serve.
net::awaitable<bool> ClientSession::handshake() {
  beast::error_code ec;
  arm(worker.options().header_timeout);
  co_await stream.tls_stream().async_handshake(net::ssl::stream_base::server, tok(ec));
  disarm();
  // The certificate is chosen: the SSL object must not point at the set any longer (a
  // newer set serves the next connection).
  attach(stream.tls_stream().native_handle(), nullptr);
  tls_.reset();
  if (ec) {
    spdlog::debug("router-tls-handshake-failed client={} error=\"{}\"", ip,
                  timed_out() ? std::string("timed out") : ec.message());
    co_return false;
  }
  co_return true;
}

// Serves one request; false when the connection is to be closed.
net::awaitable<bool> ClientSession::serve_one(bool first) {
  const RouterOptions& opts = worker.options();
  beast::error_code ec;

  // The head's first byte: the idle keep-alive wait (or, on a new connection, already the
  // header timeout). Closing a connection that has sent nothing needs no answer.
  if (first) arm(opts.header_timeout);
  if (buffer.size() == 0) {
    if (!first) arm(opts.idle_timeout);
    size_t n = co_await stream.async_read_some(buffer.prepare(kFirstRead), tok(ec));
    if (ec) co_return false;
    buffer.commit(n);
  }
  if (!first) arm(opts.header_timeout);

  // The previous request's heads are gone (its parsers were in the frames that returned).
  head_arena.reset();
  RequestParser parser(std::piecewise_construct, std::make_tuple(),
                       std::make_tuple(head_arena.allocator()));
  parser.header_limit(static_cast<uint32_t>(
      std::min<size_t>(opts.max_header_bytes, std::numeric_limits<uint32_t>::max())));
  parser.body_limit(opts.max_body_bytes);
  // Usually the whole head came with the first read: it is parsed here, without another
  // asynchronous operation.
  if (!parse_buffered(buffer, parser, ec) || (!ec && !parser.is_header_done())) {
    co_await http::async_read_header(stream, buffer, parser, tok(ec));
  }
  const auto started = std::chrono::steady_clock::now();

  RequestInfo info;
  {
    const auto& req = parser.get();
    info.accept = std::string(req[http::field::accept]);
    info.host = std::string(req[http::field::host]);
  }
  auto answer = [&](http::status status, std::string_view message,
                    bool keep_alive) -> net::awaitable<bool> {
    auto res = error_response(status, message, info.error_context(keep_alive));
    if (status == http::status::service_unavailable) res.set(http::field::retry_after, "5");
    co_return co_await write(res) && keep_alive;
  };
  auto log = [&](std::string_view app, std::string_view instance, int status, uint64_t in,
                 uint64_t out) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // Requests no app answered (unknown host, a malformed head) count under kNoApp.
    const std::string_view app_name = app.empty() ? kNoApp : app;
    worker.traffic().record(app_name, instance, status, in, out, seconds);
    if (!worker.access_log().on()) return;
    worker.access_log().add({.app = app_name,
                             .instance = instance,
                             .method = info.method_text,
                             .path = info.target,
                             .status = status,
                             .bytes_in = in,
                             .bytes_out = out,
                             .seconds = seconds,
                             .request_id = info.request_id,
                             .client = ip,
                             .host = info.host});
  };

  if (ec) {
    http::status status;
    std::string message;
    if (timed_out()) {
      status = http::status::request_timeout;
      message = "the request head did not arrive in time";
    } else if (ec == http::error::header_limit) {
      status = http::status::request_header_fields_too_large;
      message = "the request head is too large";
    } else if (ec == http::error::body_limit) {
      status = http::status::payload_too_large;
      message = "the request body is too large";
    } else if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
               ec == net::error::eof || ec == net::error::connection_reset ||
               ec == net::ssl::error::stream_truncated ||
               ec == net::error::operation_aborted) {
      co_return false;  // the client left mid-head: nobody to answer
    } else {
      status = http::status::bad_request;
      message = "malformed request: " + ec.message();
    }
    co_await answer(status, message, false);
    log("", "", static_cast<int>(status), 0, 0);
    co_return false;
  }
  disarm();

  auto& req = parser.get();
  info.method = req.method();
  info.method_text = std::string(req.method_string());
  info.target = std::string(req.target());
  info.version = req.version();
  info.keep_alive = req.keep_alive();
  info.websocket = is_websocket_upgrade(req);
  const bool body_pending = !parser.is_done();  // unread body: answering ourselves closes
  {
    auto raw_id = req["X-Request-Id"];
    std::string_view client_id(raw_id.data(), raw_id.size());
    info.request_id = sane_request_id(client_id) ? std::string(client_id)
                                                  : worker.next_request_id();
  }

  if (info.host.empty() && info.version >= 11) {
    const std::string message = "the request has no Host header";
    co_await answer(http::status::bad_request, message, false);
    log("", "", 400, 0, 0);
    co_return false;
  }
  const std::shared_ptr<const RouteTable> routes = worker.routes();  // alive for the request
  const AppRoutes* app = routes->lookup(info.host);
  if (app == nullptr) {
    const bool keep = info.keep_alive && !body_pending;
    const std::string host = normalize_host(info.host);
    const std::string message =
        host.empty() ? std::string("no app serves this host") : "no app serves host " + host;
    bool ok = co_await answer(http::status::not_found, message, keep);
    log("", "", 404, 0, 0);
    co_return ok;
  }
  if (app->backends.empty()) {
    const bool keep = info.keep_alive && !body_pending;
    const std::string message = "app " + app->app + " has no healthy instance";
    bool ok = co_await answer(http::status::service_unavailable, message, keep);
    log(app->app, "", 503, 0, 0);
    co_return ok;
  }

  ExchangeResult r = co_await forward(*this, parser, *app, info);
  log(app->app, r.instance, r.status, r.bytes_in, r.bytes_out);
  co_return r.next == ExchangeResult::Next::keep_alive && info.keep_alive;
}

}  // namespace shoal::node::router
