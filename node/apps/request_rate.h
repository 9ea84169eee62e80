// node/apps/request_rate.h
//
// RequestRate: an app's requests per second through the routing mesh, as its leader sees
// it. Every node's answer to a route push carries its router's request count for the app
// since the router started (node/router/route_store.h); the leader records each node's
// counts and rate() turns them into requests per second over a window, the autoscaler's
// `target_rps` signal (node/apps/autoscaler.h).
//
// Contract:
//  - A count below the node's previous one means its router restarted: that node's
//    history starts again from it (no negative traffic, no double counting).
//  - rate() sums, over nodes, (newest - base) / elapsed, where base is the node's newest
//    sample at or before the window's start (else its oldest within it); a node counts
//    only when those two samples are at least half a window apart. No node counting:
//    nullopt (a new leader knows nothing yet, and says so rather than "0 requests").
//  - A node's samples older than kKeepMs before its newest go (a node gone from the
//    cluster keeps its last ones, which no window reaches once they are old); not
//    thread-safe (AppService guards it).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace shoal::node::apps {

class RequestRate {
 public:
  static constexpr int64_t kKeepMs = 10 * 60 * 1000;
  static constexpr size_t kMaxSamples = 600;

  void add(const std::string& node, int64_t at_ms, uint64_t requests);
  std::optional<double> rate(int64_t now_ms, int64_t window_ms) const;

 private:
  std::map<std::string, std::deque<std::pair<int64_t, uint64_t>>> by_node_;
};

}  // namespace shoal::node::apps
