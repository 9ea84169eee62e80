// node/router/backend_pool.h
//
// BackendPool: one IO thread's view of the backends it proxies to: idle keep-alive
// connections to each (at most max_idle per backend), the requests outstanding on each,
// and which are ejected because they refused a connection lately. pick() is
// power-of-two-choices on outstanding requests among the backends not ejected.
//
// Contract:
//  - Only the owning IO thread calls it: no locks.
//  - A backend is known by host:port; forget_missing() drops what a new table no longer
//    lists (its idle connections close).
//  - take_idle() hands out the most recently used idle connection, skipping (and closing)
//    those that idled longer than kIdleMax and, when asked to (a request that could not
//    be retried on a new connection), those the backend has already closed: checking
//    costs a system call per request, which a retryable request does without.
//  - A backend is keyed by host and port; looking one up allocates nothing.
//  - Every connection it holds belongs to the IO thread's io_context: clear() must run
//    before that context is destroyed.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "node/router/route_table.h"

namespace shoal::node::router {

class BackendPool {
 public:
  using Clock = std::chrono::steady_clock;
  // Backends close idle keep-alive connections on their own clock; past this we do not try.
  static constexpr std::chrono::seconds kIdleMax{30};

  BackendPool(size_t max_idle, std::chrono::milliseconds eject_for, uint64_t seed);

  // A backend of `backends` not in `tried`; nullptr when every one was tried. Prefers those
  // not ejected; when all untried ones are ejected it picks among them anyway (an ejection
  // is a guess, a 503 would be certain).
  const Backend* pick(const std::vector<Backend>& backends,
                      std::span<const Backend* const> tried, Clock::time_point now);

  std::optional<boost::asio::ip::tcp::socket> take_idle(const Backend& b, Clock::time_point now,
                                                        bool check_open);
  // Keeps `conn` for the next request to `b`, dropping the oldest beyond max_idle.
  void give_back(const Backend& b, boost::asio::ip::tcp::socket conn, Clock::time_point now);
  // Closes b's idle connections: the most recent one was found closed by the backend, so
  // the older ones (idle longer, past the backend's keep-alive timeout) are closed too.
  void drop_idle(const Backend& b);

  void eject(const Backend& b, Clock::time_point now);
  bool ejected(const Backend& b, Clock::time_point now) const;

  void started(const Backend& b);
  void finished(const Backend& b);
  size_t outstanding(const Backend& b) const;
  size_t idle_count(const Backend& b) const;

  void forget_missing(const RouteTable& table);
  void clear();

 private:
  struct Idle {
    boost::asio::ip::tcp::socket conn;
    Clock::time_point since;
  };
  struct State {
    std::deque<Idle> idle;  // oldest first
    size_t outstanding = 0;
    Clock::time_point ejected_until{};
  };
  // host:port; a lookup by a Backend's fields builds no string (heterogeneous lookup).
  struct Key {
    std::string host;
    uint16_t port;
  };
  struct KeyView {
    std::string_view host;
    uint16_t port;
  };
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(const KeyView& k) const;
    size_t operator()(const Key& k) const { return (*this)(KeyView{k.host, k.port}); }
  };
  struct KeyEqual {
    using is_transparent = void;
    static KeyView view(const Key& k) { return {k.host, k.port}; }
    static KeyView view(const KeyView& k) { return k; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return view(a).port == view(b).port && view(a).host == view(b).host;
    }
  };
  static KeyView key(const Backend& b) { return {b.host, b.port}; }
  State* find(const Backend& b);
  const State* find(const Backend& b) const;
  State& state(const Backend& b);

  size_t max_idle_;
  std::chrono::milliseconds eject_for_;
  std::mt19937_64 rng_;
  std::unordered_map<Key, State, KeyHash, KeyEqual> states_;
};

}  // namespace shoal::node::router
