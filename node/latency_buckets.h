// node/latency_buckets.h — the upper bounds, in seconds, of Shoal's short-latency histograms
// (a Raft fsync, a proxied request): 0.5 ms to 10 s, with +Inf implied after the last. One
// list, so the router's per-thread counters and the metrics registry bucket alike.
#pragma once

#include <array>

namespace shoal::node {

inline constexpr std::array<double, 14> kLatencyBounds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

}  // namespace shoal::node
