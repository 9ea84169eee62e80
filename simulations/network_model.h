// simulations/network_model.h
//
// NetworkModel: the fate of every datagram and stream in a simulated run. It knows nothing
// of gossip; it answers "does this packet from node i to node j arrive, when, and how many
// times", and "is there a path between i and j at all".
//
//  - Link parameters (latency distribution, loss, duplication, reordering) come from the
//    defaults, then from each matching LinkRule in the order added (later rules win field by
//    field). Rules are few (one per fault), so they are matched per packet.
//  - Partitions are named pairs of node sets; a one-way partition drops only a -> b.
//  - Bandwidth caps are per node on egress: a node's packets leave one after another at its
//    rate, so a burst waits its turn (serialization delay) before the link latency applies.
//
// Contract: deterministic: every random choice is drawn from the Rng passed in, in a fixed
// order per call. Not thread-safe; one per run.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/rng.h"
#include "base/time.h"
#include "simulations/latency.h"

namespace shoal::sim {

// A set of node indices, as a membership flag per node.
class NodeSet {
 public:
  NodeSet() = default;
  explicit NodeSet(size_t n, bool all = false) : in_(n, all ? 1 : 0) {}
  void add(size_t i) { in_[i] = 1; }
  bool contains(size_t i) const { return i < in_.size() && in_[i] != 0; }
  size_t size() const { return in_.size(); }
  size_t count() const;
  std::vector<size_t> members() const;
  NodeSet complement() const;

 private:
  std::vector<uint8_t> in_;
};

struct LinkParams {
  LatencyDist latency = LatencyDist::fixed(std::chrono::milliseconds(1));
  double loss = 0;       // probability a datagram is dropped
  double duplicate = 0;  // probability a delivered datagram arrives twice
  double reorder = 0;    // probability a datagram is held back by up to reorder_delay extra
  Duration reorder_delay = std::chrono::milliseconds(10);
};

// Field-by-field overrides; unset fields keep what earlier rules or defaults said.
struct LinkOverride {
  std::optional<LatencyDist> latency;
  std::optional<double> loss;
  std::optional<double> duplicate;
  std::optional<double> reorder;
  std::optional<Duration> reorder_delay;
};

struct LinkRule {
  std::string name;
  NodeSet from;
  NodeSet to;
  bool both_ways = true;
  LinkOverride set;
};

struct Partition {
  std::string name;
  NodeSet a;
  NodeSet b;
  bool one_way = false;  // only a -> b is cut
};

class NetworkModel {
 public:
  NetworkModel(size_t nodes, LinkParams defaults);

  // ---- configuration (faults) ----
  void add_rule(LinkRule rule) { rules_.push_back(std::move(rule)); }
  // Removes rules named `name` ("" or "all": every rule). Returns how many went.
  size_t remove_rules(const std::string& name);
  void add_partition(Partition p) { partitions_.push_back(std::move(p)); }
  // Heals the partitions named `name` ("" or "all": every one). Returns how many healed.
  size_t heal(const std::string& name);
  // Egress cap of `node` in bytes per second; 0 means unlimited.
  void set_bandwidth(size_t node, double bytes_per_second) { bandwidth_[node] = bytes_per_second; }

  // ---- questions ----
  bool blocked(size_t from, size_t to) const;
  bool connected(size_t a, size_t b) const { return !blocked(a, b) && !blocked(b, a); }
  LinkParams params(size_t from, size_t to) const;
  bool any_partition() const { return !partitions_.empty(); }

  // Sends one datagram of `size` bytes at `now`: appends 0, 1 or 2 arrival times to
  // `arrivals` (0: lost or cut; 2: duplicated).
  void route_packet(size_t from, size_t to, size_t size, TimePoint now, Rng& rng,
                    std::vector<TimePoint>& arrivals);
  // One-way delay of `size` bytes over a reliable stream (TCP): latency, serialization at
  // the sender's cap, and a retransmission timeout for each lost segment (lossy links make
  // streams slow, not lossy). Does not consult partitions.
  Duration stream_delay(size_t from, size_t to, size_t size, TimePoint now, Rng& rng);

 private:
  Duration serialize(size_t from, size_t size, TimePoint now);

  LinkParams defaults_;
  std::vector<LinkRule> rules_;
  std::vector<Partition> partitions_;
  std::vector<double> bandwidth_;
  std::vector<TimePoint> egress_free_;
};

}  // namespace shoal::sim
