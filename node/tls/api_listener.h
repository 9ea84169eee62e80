// node/tls/api_listener.h
//
// ApiTlsListener: the API's listener when it speaks TLS (docs/security.md, "TLS on the
// API"). It accepts, runs the TLS handshake (Asio's ssl::stream over OpenSSL), and hands
// each connection, decrypted, to the agent's unchanged HttpServer through a socketpair
// (HttpServer::adopt), as the --rpc channel does (node/rpc_http_relay.h). Everything the
// server applies to a plain connection (body limits, timeouts, its connection cap, tokens)
// applies the same.
//
// Contract:
//  - start() binds before returning (io_error naming the address), and runs one IO thread
//    of its own.
//  - At most Options::max_handshakes connections are in the handshake at once, each for at
//    most Options::handshake_timeout; a connection past either is closed. Every outcome is
//    counted in shoal_api_tls_total{event}.
//  - A client that speaks plain HTTP to it gets a plain-text 400 that names https://, and
//    the connection closes.
//  - When the server closes a connection the client gets a TLS close_notify (bounded wait).
//  - stop() closes the listener, lets connections whose server end has closed (HttpServer
//    stopped first) send their last bytes for up to 3 s, then closes the rest; the
//    destructor calls it.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "base/time.h"
#include "gossip/address.h"
#include "node/router/tls_pem.h"

namespace shoal::node::tls {

struct ApiTlsOptions {
  size_t max_handshakes = 128;
  Duration handshake_timeout = std::chrono::seconds(10);
};

class ApiTlsListener {
 public:
  // Takes one end of a socketpair carrying the decrypted connection, and the client's
  // "IP:PORT".
  using Adopt = std::function<void(int fd, std::string remote)>;

  static Result<std::unique_ptr<ApiTlsListener>> start(const gossip::Address& listen,
                                                       const router::TlsPem& pem, Adopt adopt,
                                                       ApiTlsOptions options = {});
  ~ApiTlsListener();
  ApiTlsListener(const ApiTlsListener&) = delete;
  ApiTlsListener& operator=(const ApiTlsListener&) = delete;

  gossip::Address address() const;  // the real port when listen asked for port 0
  void stop();

  struct Impl;

 private:
  explicit ApiTlsListener(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace shoal::node::tls
