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
//    those the backend has already closed or that idled longer than kIdleMax.
//  - Every connection it holds belongs to the IO thread's io_context: clear() must run
//    before that context is destroyed.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <random>
#include <string>
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
                      const std::vector<const Backend*>& tried, Clock::time_point now);

  std::optional<boost::beast::tcp_stream> take_idle(const Backend& b, Clock::time_point now);
  // Keeps `conn` for the next request to `b`, dropping the oldest beyond max_idle.
  void give_back(const Backend& b, boost::beast::tcp_stream conn, Clock::time_point now);

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
    boost::beast::tcp_stream conn;
    Clock::time_point since;
  };
  struct State {
    std::deque<Idle> idle;  // oldest first
    size_t outstanding = 0;
    Clock::time_point ejected_until{};
  };
  static std::string key(const Backend& b);
  const State* find(const Backend& b) const;

  size_t max_idle_;
  std::chrono::milliseconds eject_for_;
  std::mt19937_64 rng_;
  std::unordered_map<std::string, State> states_;
};

}  // namespace shoal::node::router
