// node/router/router.h
//
// Router: the reverse proxy every agent runs on --router (docs/router.md). It serves every
// app of the cluster by Host header, proxying to the app's healthy web instances on any
// node. Boost.Beast on Asio, one io_context per thread (threads = cores by default), each
// with its own SO_REUSEPORT acceptor, its own backend connection pools and its own copy
// of the current RouteTable: nothing on the request path takes a lock.
//
// Contract:
//  - update() may be called from any thread; each IO thread picks the new table up before
//    its next request. A request already forwarded finishes on the backend it chose.
//  - Answers it makes itself (unknown host 404, no healthy backend 503 with Retry-After,
//    backend timeout 504, backend unreachable 502, oversized 413, malformed 400, header
//    timeout 408) are an HTML page, or JSON {"error": "...", ...} when the client's Accept
//    prefers application/json.
//  - Idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) without a body already sent are
//    retried once on another backend when the connection to the first fails; a backend that
//    refuses connections is ejected from this router's choices for `eject_for`.
//  - With tls_listen set, a second listener terminates TLS: each connection's SNI name picks
//    the certificate of that custom domain (RouteTable::tls(); node/router/tls.h), then
//    requests are routed as on the plain listener, with X-Forwarded-Proto https. A name
//    with no certificate fails the handshake; certificates follow update() like routes.
//  - traffic() is a snapshot summed over the IO threads: counters since start; requests()
//    is one app's request count of it, cheaper (what a route push's answer carries back to
//    the app's leader, whose autoscaler turns it into requests per second).
//  - stop() closes the listeners and every connection; the destructor calls it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "gossip/address.h"
#include "node/latency_buckets.h"
#include "node/router/route_table.h"

namespace shoal::node::router {

struct RouterOptions {
  gossip::Address listen;         // --router; port 0 picks a free one (see address())
  gossip::Address tls_listen;     // --router-tls; unset (!valid()): no TLS listener
  unsigned threads = 0;           // 0: one per core
  std::string node_name;          // for the request id and logs
  std::chrono::milliseconds header_timeout{10'000};    // the whole request head
  std::chrono::milliseconds idle_timeout{60'000};      // keep-alive client, between requests
  std::chrono::milliseconds connect_timeout{3'000};    // to a backend
  std::chrono::milliseconds response_timeout{60'000};  // backend's response head -> 504
  std::chrono::milliseconds eject_for{10'000};         // passive health
  uint64_t max_body_bytes = 100ull << 20;              // request bodies -> 413
  size_t max_header_bytes = 64 << 10;                  // request head -> 431
  size_t max_idle_per_backend = 64;                    // pooled keep-alive connections
  size_t max_connections = 16384;  // client connections, all threads; past it: closed at accept
  std::string access_log;  // a line per request to this file (access_log.h); empty: none
  uint64_t access_log_max_bytes = 64ull << 20;  // then it becomes PATH.1 and starts anew
};

// The name traffic() and the access log give requests no app answered (an unknown host, a
// malformed head): not a valid app name, so it cannot clash with one.
inline constexpr std::string_view kNoApp = "-";

// Requests served for one app (or one of its instances) since the router started.
struct Traffic {
  uint64_t requests = 0;
  std::map<int, uint64_t> by_status;  // 200 -> count, 503 -> count, ...
  uint64_t bytes_in = 0;              // request bodies
  uint64_t bytes_out = 0;             // response bodies
  uint64_t in_flight = 0;
  double latency_sum_s = 0;           // with `requests`: the mean
  // Requests by latency: [i] counts those over kLatencyBounds[i - 1] and at most
  // kLatencyBounds[i]; the last slot those over every bound.
  std::array<uint64_t, kLatencyBounds.size() + 1> latency_counts{};
};

struct AppTraffic {
  std::string app;
  Traffic total;
  std::map<std::string, Traffic> by_instance;  // instance id -> traffic
};

class Router {
 public:
  // Binds the listener (an error names the address) and starts the IO threads.
  static Result<std::unique_ptr<Router>> start(RouterOptions options,
                                               std::shared_ptr<const RouteTable> routes);
  virtual ~Router() = default;

  virtual void update(std::shared_ptr<const RouteTable> routes) = 0;
  virtual gossip::Address address() const = 0;      // the bound address
  virtual gossip::Address tls_address() const = 0;  // the TLS one; !valid() when off
  virtual std::vector<AppTraffic> traffic() const = 0;
  virtual uint64_t requests(std::string_view app) const = 0;
  // The client connections each IO thread serves now, WebSocket tunnels aside
  // (diagnostics; the acceptors keep them within one of each other).
  virtual std::vector<int> connections() const = 0;
  virtual void stop() = 0;
};

}  // namespace shoal::node::router
