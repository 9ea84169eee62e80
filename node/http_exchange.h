// node/http_exchange.h
//
// Inside HttpServer: what one request/response exchange shares between its connection (on
// the IO thread) and the handler's HttpResponder (on any thread), and what the responder
// asks of the connection. http_connection.cc implements ExchangeSink; http_responder.cc
// the responder. Not for use outside the server.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "node/http_server.h"
#include "node/http_server_impl.h"

namespace shoal::node {

// A streaming client that stops reading is dropped once this much is queued for it.
constexpr size_t kStreamQueueLimit = 4 * 1024 * 1024;

// What one request/response exchange shares between the connection (IO thread) and the
// handler's responder (any thread).
struct Exchange {
  enum class State { fresh, replied, streaming, ended };
  std::mutex mu;
  State state = State::fresh;
  bool closed = false;
  size_t queued = 0;  // stream bytes handed to the IO thread, not yet written
  std::vector<std::function<void()>> on_close;
};

// The connection's side, called on the IO thread (the responder posts each call there). An
// `exchange` that is no longer the connection's current one is ignored.
class ExchangeSink {
 public:
  virtual ~ExchangeSink() = default;
  virtual void send_whole(uint64_t exchange, int status, std::string body,
                          std::string content_type, HttpHeaders headers) = 0;
  virtual void send_file(uint64_t exchange, int status, std::shared_ptr<UniqueFd> file,
                         uint64_t offset, uint64_t length, std::string content_type,
                         HttpHeaders headers) = 0;
  virtual void send_stream_header(uint64_t exchange, int status, std::string content_type,
                                  HttpHeaders headers) = 0;
  virtual void send_chunk(uint64_t exchange, std::shared_ptr<std::string> chunk) = 0;
  virtual void send_last_chunk(uint64_t exchange) = 0;
  virtual void close() = 0;  // at once (a streaming client that stopped reading)
};

// The responder a handler answers exchange `id` of `sink` with. It holds the sink (nothing
// else reads from the connection while a handler works) and the server, whose io_context
// it posts to until the server's IO thread has finished.
std::shared_ptr<HttpResponder> make_responder(std::shared_ptr<ExchangeSink> sink,
                                              std::shared_ptr<HttpServer::Impl> server,
                                              uint64_t id, std::shared_ptr<Exchange> ex);

}  // namespace shoal::node
