// node/router/forwarder.cc
#include "node/router/forwarder.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <limits>
#include <optional>
#include <span>

#include "node/router/body_relay.h"
#include "node/router/deadline.h"
#include "node/router/proxy_headers.h"
#include "node/router/tunnel.h"

namespace shoal::node::router {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kResponseHeaderLimit = 256 * 1024;
constexpr int kInterimResponsesMax = 8;  // 100 Continue, 103 Early Hints, ... then a final one
constexpr size_t kKeptBufferMax = 16 * 1024;  // a session's buffers beyond: freed

auto tok(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

// The request counts as in flight on its backend (picker) and instance (traffic) while
// this lives.
class Flight {
 public:
  Flight(Worker& w, const AppRoutes& app, const Backend& b) : w_(w), app_(app), b_(b) {
    w_.pool().started(b_);
    w_.traffic().started(app_.app, b_.instance);
  }
  ~Flight() {
    w_.pool().finished(b_);
    w_.traffic().finished(app_.app, b_.instance);
  }
  Flight(const Flight&) = delete;
  Flight& operator=(const Flight&) = delete;

 private:
  Worker& w_;
  const AppRoutes& app_;
  const Backend& b_;
};

// The backend connection of one exchange, watched by the session's backend Deadline while
// it is set: a timeout cancels its pending operation (timed_out() then says so).
class BackendConn {
 public:
  explicit BackendConn(Deadline& deadline) : deadline_(deadline) {}
  ~BackendConn() { drop(); }
  BackendConn(const BackendConn&) = delete;
  BackendConn& operator=(const BackendConn&) = delete;

  void set(tcp::socket s) {
    drop();
    conn_.emplace(std::move(s));
    deadline_.watch(&*conn_);
  }
  void drop() {
    deadline_.watch(nullptr);
    deadline_.disarm();
    conn_.reset();
  }
  tcp::socket release() {
    tcp::socket s = std::move(*conn_);
    drop();
    return s;
  }
  explicit operator bool() const { return conn_.has_value(); }
  tcp::socket& operator*() { return *conn_; }
  tcp::socket* operator->() { return &*conn_; }
  void arm(std::chrono::milliseconds d) { deadline_.arm(d); }
  bool timed_out() const { return deadline_.expired(); }

 private:
  Deadline& deadline_;
  std::optional<tcp::socket> conn_;
};

// A relay buffer of the worker's, for one exchange.
class RelayBuffer {
 public:
  explicit RelayBuffer(Worker& w) : w_(w), b_(w.take_relay_buffer()) {}
  ~RelayBuffer() { w_.give_back_relay_buffer(std::move(b_)); }
  RelayBuffer(const RelayBuffer&) = delete;
  RelayBuffer& operator=(const RelayBuffer&) = delete;
  char* get() { return b_.get(); }

 private:
  Worker& w_;
  std::unique_ptr<char[]> b_;
};

net::awaitable<bool> connect(BackendConn& conn, const net::any_io_executor& executor,
                             const Backend& b, std::chrono::milliseconds timeout) {
  beast::error_code ec;
  auto address = net::ip::make_address(b.host, ec);
  if (ec) {
    spdlog::warn("router-backend-connect instance={} host={} port={} error=not-an-ip",
                 b.instance, b.host, b.port);
    co_return false;
  }
  conn.set(tcp::socket(executor));
  conn.arm(timeout);
  co_await conn->async_connect(tcp::endpoint(address, b.port), tok(ec));
  if (ec) {
    spdlog::warn("router-backend-connect instance={} host={} port={} error={}", b.instance,
                 b.host, b.port, conn.timed_out() ? "timeout" : ec.message());
    conn.drop();
    co_return false;
  }
  conn->set_option(tcp::no_delay(true), ec);
  conn->non_blocking(true, ec);  // MessageWriter tries each write without waiting first
  co_return true;
}

net::awaitable<void> answer(ClientSession& client, const RequestInfo& info,
                            ExchangeResult& result, http::status status,
                            const std::string& message, bool keep_alive) {
  auto res = error_response(status, message, info.error_context(keep_alive));
  result.status = static_cast<int>(status);
  const bool written = co_await client.write(res);
  result.next = written && keep_alive ? ExchangeResult::Next::keep_alive
                                      : ExchangeResult::Next::close;
}

bool has_no_body(const RequestInfo& info, int status) {
  return info.method == http::verb::head || (status >= 100 && status < 200) || status == 204 ||
         status == 304;
}

}  // namespace

net::awaitable<ExchangeResult> forward(ClientSession& client,
                                       RequestParser& request,
                                       const AppRoutes& app, const RequestInfo& info) {
  Worker& worker = client.worker;
  const RouterOptions& opts = worker.options();
  BackendPool& pool = worker.pool();
  ExchangeResult result;
  beast::error_code ec;
  auto executor = client.stream.get_executor();

  // The request as the backend gets it: HTTP/1.1 keep-alive, hop-by-hop fields replaced.
  // Edited in place (a copy of the head cost an allocation per field): the parser keeps
  // what it learnt of the framing in its own state, and the relay alternates reading a
  // piece of body into this message and writing it out of it.
  auto& out = request.get();
  const bool has_body = !request.is_done();
  const bool expect_continue =
      has_body && beast::iequals(out[http::field::expect], "100-continue");
  strip_hop_by_hop(out, info.websocket);
  if (expect_continue) out.erase(http::field::expect);  // we say 100 Continue ourselves
  out.version(11);
  set_forwarding(out, client.ip, client.scheme(), info.host, info.request_id);
  if (info.websocket) out.set(http::field::connection, "Upgrade");
  const bool idempotent = is_idempotent(info.method);

  // A pooled connection may have been closed by the backend while idle. A request that can
  // be sent again on a new connection finds out by trying (costing nothing when it was
  // open); any other has the pool check first (a system call).
  const bool retryable_on_stale = idempotent && !has_body;

  std::array<const Backend*, 2> tried_backends{};  // the first choice and one retry
  size_t tried = 0;
  const Backend* backend = nullptr;
  BackendConn conn(client.backend_deadline);
  std::optional<MessageWriter<true>> request_writer;
  std::optional<ResponseParser> rp;
  std::optional<Flight> flight;
  // The session's buffer, kept between requests (its capacity saves an allocation each).
  beast::flat_buffer& backend_buffer = client.backend_buffer;
  backend_buffer.consume(backend_buffer.size());
  if (backend_buffer.capacity() > kKeptBufferMax) backend_buffer.shrink_to_fit();
  for (std::string* head : {&client.request_head, &client.response_head}) {
    if (head->capacity() > kKeptBufferMax) *head = std::string();
  }
  RelayBuffer relay(worker);
  bool reused = false;
  bool fresh_same_backend = false;  // the pooled connection was stale: a new one, same backend
  bool stale_retried = false;
  bool connect_timed_out = false;

  for (int pass = 0; pass < 2; ++pass) {
    // 1. A connection with the request head written to it.
    bool head_sent = false;
    for (int step = 0; step < 4 && !head_sent; ++step) {
      if (!fresh_same_backend) {
        if (tried == tried_backends.size()) break;
        backend = pool.pick(app.backends, std::span(tried_backends.data(), tried), Clock::now());
        if (backend == nullptr) break;
        tried_backends[tried++] = backend;
        conn.drop();
        if (auto idle = pool.take_idle(*backend, Clock::now(), !retryable_on_stale)) {
          conn.set(std::move(*idle));
        }
        reused = static_cast<bool>(conn);
      }
      fresh_same_backend = false;
      if (!conn) {
        reused = false;
        if (!co_await connect(conn, executor, *backend, opts.connect_timeout)) {
          connect_timed_out = true;
          pool.eject(*backend, Clock::now());
          continue;
        }
      }
      request_writer.emplace(out, client.request_head);
      if (!request_writer->start_head(*conn, ec)) {
        conn.arm(opts.response_timeout);
        co_await request_writer->finish(*conn, ec);
      }
      if (ec) {  // nothing complete reached the backend: safe to send again for any method
        conn.drop();
        if (reused && !stale_retried) {
          stale_retried = true;
          fresh_same_backend = true;
        }
        continue;
      }
      head_sent = true;
    }
    if (!head_sent) {
      const std::string message =
          "app " + app.app + (connect_timed_out ? " is unreachable" : " did not take the request");
      co_await answer(client, info, result, http::status::bad_gateway, message,
                      info.keep_alive && !has_body);
      co_return result;
    }
    result.instance = backend->instance;
    flight.reset();
    flight.emplace(worker, app, *backend);

    // 2. The request body, streamed.
    if (has_body) {
      if (expect_continue) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        client.arm(opts.idle_timeout);
        co_await net::async_write(client.stream, net::buffer(kContinue), tok(ec));
        client.disarm();
        if (ec) {
          result.status = 499;
          co_return result;
        }
      }
      auto relayed = co_await relay_body(
          client.stream, client.buffer, request, *conn, *request_writer, relay.get(),
          [&] { client.arm(opts.idle_timeout); }, [&] { conn.arm(opts.response_timeout); });
      client.disarm();
      result.bytes_in = relayed.bytes;
      if (relayed.failure == RelayOutcome::Failure::read) {
        conn.drop();  // the backend has half a request: never reuse
        if (relayed.ec == http::error::body_limit) {
          const std::string message = "the request body is over " +
                                      std::to_string(opts.max_body_bytes) + " bytes";
          co_await answer(client, info, result, http::status::payload_too_large, message, false);
        } else if (client.timed_out()) {
          const std::string message = "the request body did not arrive in time";
          co_await answer(client, info, result, http::status::request_timeout, message, false);
        } else {
          result.status = 499;
        }
        result.next = ExchangeResult::Next::close;
        co_return result;
      }
      if (relayed.failure == RelayOutcome::Failure::write) {
        conn.drop();
        const std::string message = "app " + app.app + " dropped the request";
        co_await answer(client, info, result, http::status::bad_gateway, message, false);
        co_return result;
      }
    }

    // 3. The response head; interim (1xx but 101) responses are dropped.
    for (int k = 0; k < kInterimResponsesMax; ++k) {
      rp.emplace(std::piecewise_construct, std::make_tuple(),
                 std::make_tuple(client.head_arena.allocator()));
      // Unlimited; not boost::none, which Boost 1.74 compares as less than any length.
      rp->body_limit(std::numeric_limits<uint64_t>::max());
      rp->header_limit(kResponseHeaderLimit);
      if (info.method == http::verb::head) rp->skip(true);
      conn.arm(opts.response_timeout);
      co_await http::async_read_header(*conn, backend_buffer, *rp, tok(ec));
      if (ec) break;
      const int code = rp->get().result_int();
      if (code >= 200 || code == 101) break;
    }
    if (!ec && rp->get().result_int() < 200 && rp->get().result_int() != 101) {
      ec = http::error::bad_status;  // only interim responses
    }
    if (!ec) break;
    const bool timed_out = conn.timed_out();
    conn.drop();
    if (timed_out) {
      const std::string message = "app " + app.app + " did not answer in time";
      co_await answer(client, info, result, http::status::gateway_timeout, message,
                      info.keep_alive);
      co_return result;
    }
    // A pooled connection the backend closed just as we sent: once more, on a new one.
    const bool hung_up = ec == http::error::end_of_stream || ec == net::error::eof ||
                         ec == net::error::connection_reset;
    if (pass == 0 && reused && hung_up && retryable_on_stale && !stale_retried) {
      stale_retried = true;
      fresh_same_backend = true;
      pool.drop_idle(*backend);  // idle longer than this one: closed by the backend too
      backend_buffer.consume(backend_buffer.size());
      continue;
    }
    spdlog::warn("router-backend-response app={} instance={} error={}", app.app,
                 backend->instance, ec.message());
    const std::string message = "app " + app.app + " sent no valid response";
    co_await answer(client, info, result, http::status::bad_gateway, message,
                    info.keep_alive && !has_body);
    co_return result;
  }

  // 4. The response, streamed back.
  // The response as the client gets it, edited in place as the request was.
  auto& res = rp->get();
  const int status = res.result_int();
  result.status = status;
  const bool upgrade = info.websocket && status == 101;
  strip_hop_by_hop(res, upgrade);
  // The client sees the id the backend and the access log saw, to quote it in a report.
  if (!info.request_id.empty() && res.find("X-Request-Id") == res.end()) {
    res.set("X-Request-Id", beast::string_view(info.request_id.data(), info.request_id.size()));
  }
  res.version(info.version == 10 ? 10 : 11);
  bool client_keep = info.keep_alive && !upgrade;
  const bool no_body = has_no_body(info, status);
  if (!no_body) {
    if (!rp->content_length() && !rp->chunked()) {  // ends when the backend closes
      if (info.version >= 11) {
        res.chunked(true);
      } else {
        client_keep = false;
      }
    } else if (rp->chunked() && info.version < 11) {  // HTTP/1.0 knows no chunks
      res.chunked(false);
      client_keep = false;
    }
  }
  if (upgrade) {
    res.set(http::field::connection, "Upgrade");
  } else {
    res.keep_alive(client_keep);
  }
  MessageWriter<false> response_writer(res, client.response_head);
  // The head goes out alone only when nothing of the body is here yet (a stream that the
  // client should see start at once) or there is no body; else the relay's first write
  // carries head and body together.
  const bool head_alone =
      no_body || upgrade || (backend_buffer.size() == 0 && !rp->is_done());
  if (head_alone) {
    if (!response_writer.start_head(client.stream, ec)) {
      client.arm(opts.idle_timeout);
      co_await response_writer.finish(client.stream, ec);
      client.disarm();
    }
    if (ec) {
      result.next = ExchangeResult::Next::close;
      co_return result;
    }
  }
  if (upgrade) {
    std::string client_pending = beast::buffers_to_string(client.buffer.data());
    client.buffer.consume(client.buffer.size());
    std::string backend_pending = beast::buffers_to_string(backend_buffer.data());
    start_tunnel(client.release_stream(), std::move(client_pending), conn.release(),
                 std::move(backend_pending));
    result.next = ExchangeResult::Next::tunneled;
    co_return result;
  }
  if (!no_body) {
    auto relayed = co_await relay_body(
        *conn, backend_buffer, *rp, client.stream, response_writer, relay.get(),
        [&] { conn.arm(opts.response_timeout); }, [&] { client.arm(opts.idle_timeout); });
    client.disarm();
    result.bytes_out = relayed.bytes;
    if (relayed.failure != RelayOutcome::Failure::none) {
      if (relayed.failure == RelayOutcome::Failure::read) {
        spdlog::warn("router-backend-body app={} instance={} error={}", app.app,
                     backend->instance, relayed.ec.message());
        if (!response_writer.head_sent()) {  // the client has nothing yet: it can be told
          conn.drop();
          const std::string message = "app " + app.app + " sent no valid response";
          co_await answer(client, info, result, http::status::bad_gateway, message, false);
          co_return result;
        }
      }
      result.next = ExchangeResult::Next::close;
      co_return result;
    }
  }
  if (rp->is_done() && rp->keep_alive() && backend_buffer.size() == 0) {
    pool.give_back(*backend, conn.release(), Clock::now());
  }
  result.next = client_keep ? ExchangeResult::Next::keep_alive : ExchangeResult::Next::close;
  co_return result;
}

}  // namespace shoal::node::router
