#include "node/http_exchange.h"

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

namespace shoal::node {

namespace net = boost::asio;

namespace {

class Responder final : public HttpResponder {
 public:
  // Holds the connection: while a handler works, nothing else does (no read is pending).
  // Holds the server (not just its io_context) so a responder kept past stop() still has
  // a context to check before posting; see Impl::io_finished.
  Responder(std::shared_ptr<ExchangeSink> conn, std::shared_ptr<HttpServer::Impl> server,
            uint64_t id, std::shared_ptr<Exchange> ex)
      : conn_(std::move(conn)), server_(std::move(server)), id_(id), ex_(std::move(ex)) {}

  ~Responder() override {
    Exchange::State state;
    {
      std::lock_guard lock(ex_->mu);
      state = ex_->state;
    }
    if (state == Exchange::State::fresh) {
      spdlog::error("http-handler-no-answer id={}", id_);
      post([id = id_, body = json_error("internal error: the handler gave no answer")](
               ExchangeSink& c) { c.send_whole(id, 500, body, "application/json", {}); });
    } else if (state == Exchange::State::streaming) {
      post([id = id_](ExchangeSink& c) { c.send_last_chunk(id); });
    }
  }

  void reply(int status, std::string body, std::string content_type,
             HttpHeaders headers) override {
    if (!transition(Exchange::State::fresh, Exchange::State::replied, "reply")) return;
    post([id = id_, status, body = std::move(body), ct = std::move(content_type),
          headers = std::move(headers)](ExchangeSink& c) mutable {
      c.send_whole(id, status, std::move(body), std::move(ct), std::move(headers));
    });
  }

  void reply_file(int status, UniqueFd file, uint64_t offset, uint64_t length,
                  std::string content_type, HttpHeaders headers) override {
    if (!transition(Exchange::State::fresh, Exchange::State::replied, "reply_file")) return;
    post([id = id_, status, f = std::make_shared<UniqueFd>(std::move(file)), offset, length,
          ct = std::move(content_type), headers = std::move(headers)](ExchangeSink& c) mutable {
      c.send_file(id, status, std::move(f), offset, length, std::move(ct), std::move(headers));
    });
  }

  void start_stream(int status, std::string content_type, HttpHeaders headers) override {
    if (!transition(Exchange::State::fresh, Exchange::State::streaming, "start_stream")) return;
    post([id = id_, status, ct = std::move(content_type),
          headers = std::move(headers)](ExchangeSink& c) mutable {
      c.send_stream_header(id, status, std::move(ct), std::move(headers));
    });
  }

  bool write(std::string chunk) override {
    if (chunk.empty()) return !closed();  // an empty chunk would end the stream
    {
      std::lock_guard lock(ex_->mu);
      if (ex_->closed || ex_->state != Exchange::State::streaming) return false;
      if (ex_->queued + chunk.size() > kStreamQueueLimit) {
        spdlog::warn("http-stream-slow-client id={} queued={}", id_, ex_->queued);
        ex_->closed = true;
        post([](ExchangeSink& c) { c.close(); });
        return false;
      }
      ex_->queued += chunk.size();
    }
    post([id = id_, c = std::make_shared<std::string>(std::move(chunk))](ExchangeSink& conn) {
      conn.send_chunk(id, c);
    });
    return true;
  }

  void end() override {
    if (!transition(Exchange::State::streaming, Exchange::State::ended, "end")) return;
    post([id = id_](ExchangeSink& c) { c.send_last_chunk(id); });
  }

  bool closed() const override {
    std::lock_guard lock(ex_->mu);
    return ex_->closed;
  }

  void on_close(std::function<void()> fn) override {
    {
      std::lock_guard lock(ex_->mu);
      if (!ex_->closed) {
        ex_->on_close.push_back(std::move(fn));
        return;
      }
    }
    fn();
  }

 private:
  bool transition(Exchange::State from, Exchange::State to, const char* what) {
    std::lock_guard lock(ex_->mu);
    if (ex_->state != from) {
      spdlog::error("http-handler-misuse id={} call={} (answered already, or no stream)", id_,
                    what);
      return false;
    }
    ex_->state = to;
    return true;
  }

  template <typename Fn>
  void post(Fn fn) {
    std::lock_guard lock(server_->post_mu);
    if (server_->io_finished) return;  // the connection is closed; nothing could be sent
    net::post(server_->io, [conn = conn_, fn = std::move(fn)]() mutable { fn(*conn); });
  }

  std::shared_ptr<ExchangeSink> conn_;
  std::shared_ptr<HttpServer::Impl> server_;
  uint64_t id_;
  std::shared_ptr<Exchange> ex_;
};

}  // namespace

std::shared_ptr<HttpResponder> make_responder(std::shared_ptr<ExchangeSink> sink,
                                              std::shared_ptr<HttpServer::Impl> server,
                                              uint64_t id, std::shared_ptr<Exchange> ex) {
  return std::make_shared<Responder>(std::move(sink), std::move(server), id, std::move(ex));
}

}  // namespace shoal::node
