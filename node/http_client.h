// node/http_client.h
//
// http_request: one blocking HTTP/1.1 exchange over a fresh connection (Boost.Beast),
// for the CLI, the tests and node-to-node forwarding. Streams a chunked answer through a
// callback as it arrives (event streams, query responses).
//
// Contract:
//  - Connecting is bounded by min(timeout, 3 s); the whole exchange by `timeout`, except
//    in stream mode, where `timeout` bounds the wait for each piece of the body.
//  - Upload mode (body_reader set): the body is pulled from the reader piece by piece and
//    sent with Content-Length body_size, so a large artifact never sits in memory; `timeout`
//    then bounds each piece's write. If the server answers and closes before taking the
//    whole body (a 4xx for a refused upload), that answer is returned, not a send error.
//  - Only transport failures are errors (unavailable, naming the address and what failed);
//    any HTTP status is a response.
//  - `host` may be a name or an IP literal.
//  - A HEAD answer's Content-Length is read as the length of the body it did not send.
//  - With `keys`, the exchange runs over the node-to-node channel (node/secure/): a
//    handshake proving the cluster secret, then sealed records; a refusal, or a record that
//    fails to open, is an unavailable error naming the channel.
//  - With `tls`, the exchange runs over TLS 1.2 or later; the server's certificate is judged
//    by TlsClientOptions::accept before the request goes out.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/time.h"
#include "node/secure/cluster_secret.h"

namespace shoal::node {

struct HttpResponse {
  int status = 0;
  std::string body;  // empty in stream mode: the body went to on_body
  std::multimap<std::string, std::string> headers;  // names as sent
  std::string header(const std::string& name) const;  // ignores case; "" if absent
};

// What a TLS client learned of the server in the handshake, before any request is sent.
struct TlsPeer {
  std::string fingerprint;   // of the server's public key (node/tls/fingerprint.h)
  bool verified = false;     // its chain verifies against the trusted CAs and names the host
  std::string verify_error;  // why not, when !verified
};

struct TlsClientOptions {
  std::string ca_file;  // the CAs to trust (PEM); "" : the system's
  // Judges the server after the handshake; an error ends the exchange with that error, as
  // it is. Unset: only a verified server is accepted.
  std::function<Status(const TlsPeer&)> accept;
};

struct HttpExchange {
  std::string method = "GET";
  std::string target = "/";  // path and query, already encoded
  std::string body;
  // Upload mode when set: fills the buffer with the next piece of the body and returns how
  // many bytes it wrote (0 only once all body_size bytes were given), or an error, which
  // aborts the exchange with that error. `body` is ignored then.
  std::function<Result<size_t>(std::span<char>)> body_reader;
  uint64_t body_size = 0;
  // Upload mode: called after each piece reached the socket, with the bytes sent so far.
  std::function<void(uint64_t)> on_body_sent;
  std::string content_type = "application/json";  // sent only with a body or POST/PUT
  std::multimap<std::string, std::string> headers;
  Duration timeout = std::chrono::seconds(30);
  // Stream mode when set: called with each piece of the body as it arrives; return false
  // to stop reading (the exchange then ends OK).
  std::function<bool(std::string_view)> on_body;
  // Stream mode: called once with the status and headers (no body yet) before on_body;
  // return false to read no body (the exchange then ends OK).
  std::function<bool(const HttpResponse&)> on_headers;
  // A peer's --rpc listener: the keyring to open the node-to-node channel with (usually
  // secure::node_keyring()). Null: plain HTTP.
  std::shared_ptr<const secure::Keyring> keys;
  // HTTPS when set (an API that binds off loopback, docs/security.md). Not with `keys`.
  std::shared_ptr<const TlsClientOptions> tls;
};

Result<HttpResponse> http_request(const std::string& host, int port, const HttpExchange& ex);

}  // namespace shoal::node
