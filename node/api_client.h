// node/api_client.h
//
// ApiClient: a client of one node's /v1 HTTP API — what the `shoal` CLI verbs, the tests
// and (later) node-to-node forwarding use to talk to an agent.
//
// Contract:
//  - Blocking; each call opens its own connection and is bounded by the timeout (connect
//    bounded by min(timeout, 3 s)). A client object may be used from one thread at a time.
//  - call() turns the API's answers into Status/Result: a 2xx JSON body is the result; a
//    4xx/5xx becomes a Status carrying the API's {"error": ...} message (400 ->
//    invalid_argument, 404 -> not_found, 405 -> invalid_argument, 409 ->
//    failed_precondition, 401 -> unauthenticated, 403 -> permission_denied, 502/503 ->
//    unavailable, others -> internal); no connection is
//    unavailable naming the address; a body that is not JSON is corruption.
//  - send() is the raw form (any method, any body) for tests; only transport failures are
//    errors there.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "node/http_client.h"

namespace shoal::node {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

class ApiClient {
 public:
  // `base`: "http://HOST:PORT", "https://HOST:PORT", "HOST:PORT" or "HOST" (port 8080).
  // HOST may be a name. Without a scheme it is https unless HOST is loopback (127.x, ::1,
  // localhost): an agent serves its API over TLS whenever it binds off loopback.
  static Result<ApiClient> create(std::string_view base,
                                  Duration timeout = std::chrono::seconds(30));

  Result<nlohmann::json> call(const std::string& method, const std::string& path,
                              const QueryParams& query = {},
                              const nlohmann::json* body = nullptr) const;
  Result<HttpResponse> send(const std::string& method, const std::string& path_and_query,
                            const std::string& body = "",
                            const std::string& content_type = "application/json") const;

  // Stream mode of send(): the body goes to `on_body` piece by piece as it arrives (return
  // false to stop); the timeout bounds the wait for each piece. `on_headers`, if given, hears
  // the status and headers first (false: read no body).
  Result<HttpResponse> stream(const std::string& method, const std::string& path_and_query,
                              const std::string& body, const std::string& content_type,
                              std::function<bool(std::string_view)> on_body,
                              std::function<bool(const HttpResponse&)> on_headers = {}) const;

  // Upload form of stream(): the body (`size` bytes) is pulled from `reader` piece by piece
  // (see HttpExchange::body_reader) and `on_sent` hears how much went out; the answer goes
  // to `on_body` as it arrives. For `shoal deploy`.
  Result<HttpResponse> upload(const std::string& method, const std::string& path_and_query,
                              uint64_t size, std::function<Result<size_t>(std::span<char>)> reader,
                              std::function<void(uint64_t)> on_sent,
                              const std::string& content_type,
                              std::function<bool(std::string_view)> on_body,
                              std::function<bool(const HttpResponse&)> on_headers = {}) const;

  const std::string& base_url() const { return base_url_; }
  // An API token sent as "Authorization: Bearer TOKEN" with every request ("" : none).
  void set_token(std::string token) { token_ = std::move(token); }
  bool has_token() const { return !token_.empty(); }
  void set_timeout(Duration timeout) { timeout_ = timeout; }
  bool uses_tls() const { return tls_; }
  // How an https server's certificate is judged (default: it must verify against the
  // system's CAs and name the host). Ignored over http.
  void set_tls_options(std::shared_ptr<const TlsClientOptions> options) {
    tls_options_ = std::move(options);
  }

  // Percent-encodes for a query string: unreserved characters pass, the rest become %XX.
  static std::string url_encode(std::string_view text);

 private:
  ApiClient(std::string host, int port, bool tls, Duration timeout);
  HttpExchange exchange(const std::string& method, const std::string& path_and_query) const;
  Status unreachable(const Status& failure, const std::string& hint) const;
  std::string host_;
  int port_ = 0;
  bool tls_ = false;
  std::shared_ptr<const TlsClientOptions> tls_options_;
  std::string base_url_;
  Duration timeout_;
  std::string token_;
};

}  // namespace shoal::node
