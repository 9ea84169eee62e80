// node/router/client_session.h
//
// ClientSession: one client connection on one IO thread. Reads a request head, routes it
// by Host through the worker's RouteTable, and either answers itself (404 unknown host,
// 503 no backend, 400/408/413/431) or has forward() proxy it. One request at a time, so
// pipelined requests are answered in order.
//
// Timeouts, by a per-connection Deadline that cancels the socket (so the session can still
// answer 408): the first request head must be complete within header_timeout of the
// accept; later ones within header_timeout of their first byte, which must come within
// idle_timeout of the previous response. A client trickling its head is answered 408 and
// closed; other connections never wait on it. Writes to the client and reads of its body
// each get idle_timeout. A TLS connection's handshake must be over within header_timeout
// of the accept; when the router closes a TLS connection it sends close_notify and waits
// at most a second for the client's.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "node/router/client_stream.h"
#include "node/router/deadline.h"
#include "node/router/head_arena.h"
#include "node/router/tls.h"
#include "node/router/worker.h"

namespace shoal::node::router {

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  // `tls`: the certificates a TLS stream's handshake picks from (kept until it is over).
  // The acceptor counted it in worker.sessions() when it placed the connection there; the
  // destructor takes it out.
  ClientSession(Worker& worker, ClientStream stream,
                std::shared_ptr<const TlsContexts> tls = nullptr);
  ~ClientSession() { worker.session_ended(); }

  // Serves the connection until it closes; the parameter keeps the session alive.
  static boost::asio::awaitable<void> run(std::shared_ptr<ClientSession> self);

  // After `d`, the pending operation on the client socket fails and timed_out() is true,
  // until the next arm(). disarm() stops the clock.
  void arm(std::chrono::milliseconds d) { deadline_.arm(d); }
  void disarm() { deadline_.disarm(); }
  bool timed_out() const { return deadline_.expired(); }

  // "https" over TLS, else "http": X-Forwarded-Proto.
  const char* scheme() const { return stream.tls() ? "https" : "http"; }

  // The client connection, for a tunnel to own; the session's timeout lets go of it.
  ClientStream release_stream() {
    deadline_.watch(nullptr);
    deadline_.disarm();
    return std::move(stream);
  }

  // Writes one of the router's own answers (within idle_timeout); false: client gone.
  boost::asio::awaitable<bool> write(
      boost::beast::http::response<boost::beast::http::string_body>& res);

  Worker& worker;
  ClientStream stream;
  boost::beast::flat_buffer buffer;  // bytes read from the client, not yet parsed
  std::string ip;                    // the client's address, for X-Forwarded-For and logs
  // The timeout of the backend connection a request is on (forward() watches and arms it).
  Deadline backend_deadline;
  // Bytes read from that connection, not yet parsed (forward() empties it per request).
  boost::beast::flat_buffer backend_buffer;
  // The memory of the heads of the request being served, and of its response.
  HeadArena head_arena;
  // The text of the heads forward() writes, kept between requests for their capacity.
  std::string request_head;
  std::string response_head;

 private:
  boost::asio::awaitable<bool> serve_one(bool first);
  boost::asio::awaitable<bool> handshake();

  Deadline deadline_;                       // over the client socket
  std::shared_ptr<const TlsContexts> tls_;  // until the handshake has picked a certificate
};

}  // namespace shoal::node::router
