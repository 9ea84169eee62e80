// HttpServer's connections: see http_server_impl.h.
#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <deque>
#include <mutex>
#include <optional>

#include "node/http_exchange.h"
#include "node/http_file_body.h"
#include "node/http_server_impl.h"
#include "node/http_util.h"

namespace shoal::node {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kHeaderLimit = 16 * 1024;
// While streaming we keep reading (to notice a hang-up); this bounds what a client may
// pipeline meanwhile.
constexpr size_t kPipelineBufferLimit = 64 * 1024;
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 16 * 1024 * 1024;

bool parse_query(std::string_view raw, std::multimap<std::string, std::string>& out) {
  while (!raw.empty()) {
    size_t amp = raw.find('&');
    std::string_view pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), /*plus_is_space=*/true);
    auto value = percent_decode(
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!key || !value) return false;
    out.emplace(std::move(*key), std::move(*value));
  }
  return true;
}

using WriteOp = std::function<void(std::function<void(beast::error_code)>)>;

}  // namespace

class Connection final : public ServerConnection,
                         public ExchangeSink,
                         public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<HttpServer::Impl> server, tcp::socket socket, std::string remote)
      : server_(std::move(server)), stream_(std::move(socket)), remote_(std::move(remote)) {
    beast::error_code ec;
    if (remote_.empty()) {
      auto ep = stream_.socket().remote_endpoint(ec);
      remote_ = ec ? std::string("?") : endpoint_string(ep);
    }
    stream_.socket().set_option(tcp::no_delay(true), ec);  // fails, harmlessly, if relayed
  }

  ~Connection() {
    std::lock_guard lock(server_->conns_mu);
    server_->conns.erase(this);
  }

  void start() override { read_request(); }

  // IO thread, on stop(): a connection waiting for a request, or streaming, closes now;
  // one whose answer is being made or sent closes once it is out.
  void begin_shutdown() override {
    if (!busy_ || streaming_) close();
  }

  // IO thread: close the socket and tell the current exchange.
  void close() override {
    if (closed_) return;
    closed_ = true;
    writes_.clear();  // never to be written; each holds this connection
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    mark_exchange_closed();
    // An audited request whose answer will never be sent: it was let through, so it is
    // logged all the same, without an outcome.
    if (!audit_.empty()) {
      spdlog::info("{} status=none (closed before the answer)", std::exchange(audit_, {}));
    }
  }

  // The head of the current exchange's answer (logged here, as the answer is decided):
  // status, our Server, the content type and the handler's headers, keep-alive as asked.
  template <class Body>
  std::shared_ptr<http::response<Body>> head(int status, const std::string& content_type,
                                             const HttpHeaders& headers) {
    auto res = std::make_shared<http::response<Body>>();
    res->version(version_);
    res->result(static_cast<unsigned>(status));
    res->set(http::field::server, "shoal");
    res->set(http::field::content_type, content_type);
    for (const auto& [k, v] : headers) res->set(k, v);
    res->keep_alive(keep_alive_);
    log_exchange(status);
    return res;
  }

  // Queues a head whose body, if any, is written after it (a file's, a stream's chunks).
  void enqueue_head(std::shared_ptr<http::response<http::empty_body>> res) {
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    enqueue([self = shared_from_this(), res, sr](auto done) {
      http::async_write_header(self->stream_, *sr,
                               [res, sr, done](beast::error_code ec, size_t) { done(ec); });
    });
  }

  // ---- called on the IO thread by responders (via post) ----
  void send_whole(uint64_t exchange, int status, std::string body, std::string content_type,
                  HttpHeaders headers) override {
    if (exchange != exchange_id_ || closed_) return;
    auto res = head<http::string_body>(status, content_type, headers);
    if (head_) {
      // A HEAD answer carries the headers a GET would, without the body: the length is
      // the handler's Content-Length if it set one (it need not build the body), or the
      // body it gave.
      auto hres = std::make_shared<http::response<http::empty_body>>(std::move(res->base()));
      if (hres->find(http::field::content_length) == hres->end()) {
        hres->content_length(body.size());
      }
      enqueue([self = shared_from_this(), hres](auto done) {
        http::async_write(self->stream_, *hres,
                          [hres, done](beast::error_code ec, size_t) { done(ec); });
      });
    } else {
      res->body() = std::move(body);
      res->prepare_payload();
      enqueue([self = shared_from_this(), res](auto done) {
        http::async_write(self->stream_, *res,
                          [res, done](beast::error_code ec, size_t) { done(ec); });
      });
    }
    enqueue([self = shared_from_this()](auto done) {
      self->finish_exchange();
      done({});
    });
  }

  void send_file(uint64_t exchange, int status, std::shared_ptr<UniqueFd> file, uint64_t offset,
                 uint64_t length, std::string content_type, HttpHeaders headers) override {
    if (exchange != exchange_id_ || closed_) return;
    auto res = head<http::empty_body>(status, content_type, headers);
    res->content_length(length);
    enqueue_head(std::move(res));
    if (!head_ && length > 0) {
      enqueue([self = shared_from_this(), file, offset, length](auto done) {
        write_file_body(self->stream_, std::move(*file), offset, length, kWriteTimeout,
                        [self, done](beast::error_code ec) { done(ec); });
      });
    }
    enqueue([self = shared_from_this()](auto done) {
      self->finish_exchange();
      done({});
    });
  }

  void send_stream_header(uint64_t exchange, int status, std::string content_type,
                          HttpHeaders headers) override {
    if (exchange != exchange_id_ || closed_) return;
    auto res = head<http::empty_body>(status, content_type, headers);
    if (res->find(http::field::cache_control) == res->end()) {
      res->set(http::field::cache_control, "no-cache");
    }
    res->chunked(true);
    streaming_ = true;
    enqueue_head(std::move(res));
    watch_for_hangup();
  }

  void send_chunk(uint64_t exchange, std::shared_ptr<std::string> chunk) override {
    if (exchange != exchange_id_ || closed_) return;
    enqueue([self = shared_from_this(), chunk](auto done) {
      net::async_write(self->stream_, http::make_chunk(net::buffer(*chunk)),
                       [self, chunk, done](beast::error_code ec, size_t) {
                         {
                           std::lock_guard lock(self->exchange_->mu);
                           self->exchange_->queued -= chunk->size();
                         }
                         done(ec);
                       });
    });
  }

  void send_last_chunk(uint64_t exchange) override {
    if (exchange != exchange_id_ || closed_) return;
    enqueue([self = shared_from_this()](auto done) {
      net::async_write(self->stream_, http::make_chunk_last(),
                       [done](beast::error_code ec, size_t) { done(ec); });
    });
    enqueue([self = shared_from_this()](auto done) {
      self->finish_exchange();
      done({});
    });
  }

 private:
  void read_request() {
    if (closed_ || server_->stopped) return close();
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    // Beast checks Content-Length against the limit while parsing the header, before we
    // know the route: admit the largest any route takes, then hold this one to its own.
    parser_->body_limit(server_->router.max_body_limit());
    stream_.expires_after(server_->options.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    const auto& h = parser_->get();
    const std::string target(h.target());
    const std::string method(h.method_string());
    const std::string raw_path = target.substr(0, target.find('?'));
    const size_t limit = server_->router.body_limit(method, raw_path);
    if (parser_->content_length() && *parser_->content_length() > limit) {
      return on_read_error(http::error::body_limit);
    }
    parser_->body_limit(limit);
    stream_.expires_after(server_->options.request_timeout);
    auto read_body = [self = shared_from_this()] {
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec, size_t) { self->on_request(ec); });
    };
    // curl and others wait (a second) for "100 Continue" before sending a large body.
    if (beast::iequals(h[http::field::expect], "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue),
                       [self = shared_from_this(), read_body](beast::error_code ec, size_t) {
                         if (ec) return self->close();
                         read_body();
                       });
      return;
    }
    read_body();
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::operation_aborted || ec == beast::error::timeout ||
        ec == net::error::connection_reset || closed_) {
      return close();
    }
    keep_alive_ = false;
    linger_ = true;
    begin_exchange();
    if (ec == http::error::body_limit) {
      return send_whole(exchange_id_, 413,
                        json_error("request body is larger than this endpoint accepts (" +
                                   std::to_string(current_body_limit()) + " bytes)"),
                        "application/json", {});
    }
    if (ec == http::error::header_limit) {
      return send_whole(exchange_id_, 431, json_error("request headers are too large"),
                        "application/json", {});
    }
    send_whole(exchange_id_, 400, json_error("malformed HTTP request: " + ec.message()),
               "application/json", {});
  }

  size_t current_body_limit() const {
    if (!parser_) return kDefaultHttpBodyLimit;
    const auto& h = parser_->get();
    const std::string target(h.target());
    return server_->router.body_limit(std::string(h.method_string()),
                                      target.substr(0, target.find('?')));
  }

  void on_request(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    stream_.expires_never();
    auto& msg = parser_->get();
    version_ = msg.version();
    keep_alive_ = msg.keep_alive();
    begin_exchange();
    head_ = msg.method() == http::verb::head;

    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.remote = remote_;
    const size_t q = req.target.find('?');
    const std::string raw_path = req.target.substr(0, q);
    req_method_ = req.method;
    req_path_ = raw_path;
    auto path = percent_decode(raw_path, /*plus_is_space=*/false);
    if (!path || (q != std::string::npos &&
                  !parse_query(std::string_view(req.target).substr(q + 1), req.query))) {
      return send_whole(exchange_id_, 400,
                        json_error("malformed percent-escape in the request target"),
                        "application/json", {});
    }
    req.path = std::move(*path);
    for (const auto& field : msg) {
      req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    req.body = std::move(msg.body());

    auto match = server_->router.match(req.method, raw_path);
    if (!match.handler) {
      if (match.allowed.empty()) {
        return send_whole(exchange_id_, 404,
                          json_error("no such endpoint: " + req.method + " " + req.path),
                          "application/json", {});
      }
      std::string allow;
      for (const auto& m : match.allowed) allow += (allow.empty() ? "" : ", ") + m;
      return send_whole(exchange_id_, 405,
                        json_error("method " + req.method + " is not allowed on " + req.path +
                                   " (use " + allow + ")"),
                        "application/json", {{"Allow", allow}});
    }
    req.params = std::move(match.params);
    if (server_->options.authorize) {
      if (Status st = server_->options.authorize(req, *match.options); !st.ok()) {
        HttpHeaders extra;
        if (st.is(Status::Code::unauthenticated)) {
          extra.emplace_back("WWW-Authenticate", match.options->basic_auth ? "Basic realm=\"shoal\""
                                                                           : "Bearer realm=\"shoal\"");
        }
        if (req.retry_after_s > 0) {
          extra.emplace_back("Retry-After", std::to_string(req.retry_after_s));
        }
        return send_whole(exchange_id_, http_status(st), json_error(st.message()),
                          "application/json", std::move(extra));
      }
    }
    if (req.audit) {
      audit_ = fmt::format("audit token=\"{}\" method={} path={} remote={}{}", req.identity,
                           req.method, req.path, req.remote, req.audit_note);
    }
    dispatch(*match.handler, std::move(req));
  }

  void begin_exchange() {
    busy_ = true;
    head_ = false;
    audit_.clear();
    ++exchange_id_;
    exchange_ = std::make_shared<Exchange>();
  }

  void dispatch(const HttpHandler& handler, HttpRequest req);

  // While a stream is open, keep one read pending: it is how a hang-up shows.
  void watch_for_hangup() {
    if (watching_ || closed_) return;
    if (buffer_.size() >= kPipelineBufferLimit) return;
    watching_ = true;
    stream_.socket().async_read_some(
        buffer_.prepare(4096), [self = shared_from_this(), id = exchange_id_](
                                   beast::error_code ec, size_t n) {
          self->watching_ = false;
          if (ec) {
            if (ec != net::error::operation_aborted) self->close();
            return;
          }
          self->buffer_.commit(n);
          if (id == self->exchange_id_) self->watch_for_hangup();
        });
  }

  void enqueue(WriteOp op) {
    writes_.push_back(std::move(op));
    if (!writing_) pump();
  }

  void pump() {
    if (writes_.empty() || closed_) {
      writes_.clear();  // each op holds this connection: left queued, it would never be freed
      writing_ = false;
      return;
    }
    writing_ = true;
    auto op = std::move(writes_.front());
    writes_.pop_front();
    stream_.expires_after(kWriteTimeout);
    op([self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        spdlog::debug("http-write-failed from={} error=\"{}\"", self->remote_, ec.message());
        self->writes_.clear();
        self->writing_ = false;
        return self->close();
      }
      self->pump();
    });
  }

  void finish_exchange() {
    mark_exchange_closed();  // a late write from the handler is refused
    busy_ = false;
    streaming_ = false;
    stream_.expires_never();
    if (!keep_alive_ || server_->stopped) {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      if (linger_) return linger(0);
      return close();
    }
    if (watching_) {
      // The hang-up watch is still reading into buffer_; cancel it before the parser
      // takes over the buffer, then start the next request from its completion.
      stream_.socket().cancel();
      net::post(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
      return;
    }
    read_request();
  }

  // After refusing a request whose body we did not read, read and drop what the client
  // is still sending (bounded), so it gets to read our answer instead of a reset.
  void linger(size_t dropped) {
    if (closed_ || dropped > kLingerBytes) return close();
    auto scratch = std::make_shared<std::array<char, 16 * 1024>>();
    stream_.expires_after(kLingerTime);
    stream_.async_read_some(net::buffer(*scratch), [self = shared_from_this(), scratch, dropped](
                                                       beast::error_code ec, size_t n) {
      if (ec) return self->close();
      self->linger(dropped + n);
    });
  }

  void mark_exchange_closed() {
    if (!exchange_) return;
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lock(exchange_->mu);
      if (exchange_->closed) return;
      exchange_->closed = true;
      callbacks.swap(exchange_->on_close);
    }
    for (auto& fn : callbacks) fn();
  }

  void log_exchange(int status) {
    spdlog::debug("http-request method={} path={} status={} from={}", req_method_, req_path_,
                  status, remote_);
    if (!audit_.empty()) spdlog::info("{} status={}", std::exchange(audit_, {}), status);
  }

  std::shared_ptr<HttpServer::Impl> server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;
  std::string req_method_ = "-";
  std::string req_path_ = "-";
  std::string audit_;  // the current exchange's audit line, less its status
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;  // the current exchange is a HEAD: headers only
  bool closed_ = false;
  bool linger_ = false;     // the last request was refused unread
  bool busy_ = false;       // between a request and the end of its answer
  bool streaming_ = false;  // the answer is a stream
  bool watching_ = false;
  bool writing_ = false;
  std::deque<WriteOp> writes_;
  uint64_t exchange_id_ = 0;
  std::shared_ptr<Exchange> exchange_;
};


void Connection::dispatch(const HttpHandler& handler, HttpRequest req) {
  auto responder = make_responder(shared_from_this(), server_, exchange_id_, exchange_);
  net::post(*server_->workers, [&handler, req = std::move(req), responder]() mutable {
    try {
      handler(req, responder);
    } catch (const std::exception& e) {
      spdlog::error("http-handler-exception path={} what=\"{}\"", req.path, e.what());
      responder->reply(500, json_error(std::string("internal error: ") + e.what()),
                       "application/json", {});
    }
  });
}

std::shared_ptr<ServerConnection> make_connection(std::shared_ptr<HttpServer::Impl> server,
                                                  tcp::socket socket, std::string remote) {
  return std::make_shared<Connection>(std::move(server), std::move(socket), std::move(remote));
}

std::string json_error(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump() + "\n";
}

std::string endpoint_string(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

}  // namespace shoal::node
