// node/router/worker.h
//
// Worker: one IO thread of the router and everything only it touches: its io_context, its
// SO_REUSEPORT acceptor, its backend pool, its traffic counters, its access-log buffer and
// its copy of the current RouteTable. RouterShared is what the threads share: the options (read-only) and
// the newest table behind a mutex plus a generation counter, so a worker takes the mutex
// only when the table changed since it last looked. The TLS contexts (certificates by
// domain) travel with the table, under the same mutex and generation.
//
// Destruction order matters: the io_context goes before the pool and counters (coroutine
// frames it destroys still reference them), and the pool is cleared while the io_context
// is alive (its idle sockets belong to it) — see ProxyRouter::stop().
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "node/router/access_log.h"
#include "node/router/backend_pool.h"
#include "node/router/route_table.h"
#include "node/router/router.h"
#include "node/router/tls.h"
#include "node/router/traffic_counters.h"

namespace shoal::node::router {

struct RouterShared {
  explicit RouterShared(RouterOptions o) : options(std::move(o)) {}
  const RouterOptions options;
  std::mutex mu;
  std::shared_ptr<const RouteTable> table;  // guarded by mu
  std::shared_ptr<const TlsContexts> tls;   // guarded by mu; built from table->tls()
  std::atomic<uint64_t> generation{0};      // bumped (under mu) with every new table
  // Every TLS connection starts on it (set before the IO threads start; null: no TLS).
  std::shared_ptr<boost::asio::ssl::context> tls_listener;
  // The access log's file (opened before the workers are made; null: no access log).
  std::shared_ptr<AccessLogFile> access_log_file;
};

class Worker {
 public:
  Worker(RouterShared& shared, unsigned index, uint64_t seed);
  ~Worker() { shutdown(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  const RouterOptions& options() const { return shared_.options; }
  unsigned index() const { return index_; }
  boost::asio::io_context& io() { return *io_; }
  BackendPool& pool() { return pool_; }
  TrafficCounters& traffic() { return traffic_; }
  AccessLog& access_log() { return access_log_; }
  const TrafficCounters& traffic() const { return traffic_; }

  // The current table, re-read from RouterShared only when its generation moved. Callers
  // copy the shared_ptr to keep the table alive across a request.
  const std::shared_ptr<const RouteTable>& routes();
  // The certificates by domain, refreshed as routes() is.
  const std::shared_ptr<const TlsContexts>& tls_contexts();
  boost::asio::ssl::context* tls_listener() const { return shared_.tls_listener.get(); }
  // A buffer of kRelayChunk bytes to relay one body through, from a free list: a request
  // costs no 16 KiB allocation. Give it back when the relay is over.
  std::unique_ptr<char[]> take_relay_buffer();
  void give_back_relay_buffer(std::unique_ptr<char[]> buffer);

  // "NODE-3f9a1c02-1b": this thread's random prefix and a counter.
  std::string next_request_id();

  // Client connections this worker serves (or has been handed and will): read by every
  // worker's acceptor to place a new connection on the least busy thread.
  int sessions() const { return sessions_.load(std::memory_order_relaxed); }
  void session_added() { sessions_.fetch_add(1, std::memory_order_relaxed); }
  void session_ended() { sessions_.fetch_sub(1, std::memory_order_relaxed); }

  std::optional<boost::asio::ip::tcp::acceptor> acceptor;
  std::optional<boost::asio::ip::tcp::acceptor> tls_acceptor;

  // Drops pooled connections and destroys the io_context with every connection and
  // coroutine on it. REQUIRES: the thread running io() has returned.
  void shutdown();

 private:
  RouterShared& shared_;
  const unsigned index_;
  TrafficCounters traffic_;
  AccessLog access_log_;
  BackendPool pool_;
  std::shared_ptr<const RouteTable> table_;
  std::shared_ptr<const TlsContexts> tls_;
  uint64_t generation_ = ~0ull;
  std::vector<std::unique_ptr<char[]>> relay_buffers_;  // free, at most kRelayBuffersKept
  uint32_t id_prefix_;
  uint64_t id_counter_ = 0;
  std::atomic<int> sessions_{0};
  std::unique_ptr<boost::asio::io_context> io_;
};

}  // namespace shoal::node::router
