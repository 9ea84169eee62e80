#include "simulations/network_model.h"

#include <algorithm>
#include <cmath>

namespace shoal::sim {

size_t NodeSet::count() const {
  return static_cast<size_t>(std::count(in_.begin(), in_.end(), uint8_t{1}));
}

std::vector<size_t> NodeSet::members() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < in_.size(); ++i) {
    if (in_[i]) out.push_back(i);
  }
  return out;
}

NodeSet NodeSet::complement() const {
  NodeSet c(in_.size());
  for (size_t i = 0; i < in_.size(); ++i) c.in_[i] = in_[i] ? 0 : 1;
  return c;
}

NetworkModel::NetworkModel(size_t nodes, LinkParams defaults)
    : defaults_(std::move(defaults)), bandwidth_(nodes, 0.0), egress_free_(nodes, kTimeZero) {}

size_t NetworkModel::remove_rules(const std::string& name) {
  const size_t before = rules_.size();
  if (name.empty() || name == "all") {
    rules_.clear();
  } else {
    std::erase_if(rules_, [&](const LinkRule& r) { return r.name == name; });
  }
  return before - rules_.size();
}

size_t NetworkModel::heal(const std::string& name) {
  const size_t before = partitions_.size();
  if (name.empty() || name == "all") {
    partitions_.clear();
  } else {
    std::erase_if(partitions_, [&](const Partition& p) { return p.name == name; });
  }
  return before - partitions_.size();
}

bool NetworkModel::blocked(size_t from, size_t to) const {
  for (const auto& p : partitions_) {
    if (p.a.contains(from) && p.b.contains(to)) return true;
    if (!p.one_way && p.b.contains(from) && p.a.contains(to)) return true;
  }
  return false;
}

LinkParams NetworkModel::params(size_t from, size_t to) const {
  LinkParams p = defaults_;
  for (const auto& r : rules_) {
    const bool match = (r.from.contains(from) && r.to.contains(to)) ||
                       (r.both_ways && r.from.contains(to) && r.to.contains(from));
    if (!match) continue;
    if (r.set.latency) p.latency = *r.set.latency;
    if (r.set.loss) p.loss = *r.set.loss;
    if (r.set.duplicate) p.duplicate = *r.set.duplicate;
    if (r.set.reorder) p.reorder = *r.set.reorder;
    if (r.set.reorder_delay) p.reorder_delay = *r.set.reorder_delay;
  }
  return p;
}

Duration NetworkModel::serialize(size_t from, size_t size, TimePoint now) {
  const double rate = bandwidth_[from];
  if (rate <= 0) return Duration::zero();
  const TimePoint start = std::max(now, egress_free_[from]);
  const auto wire = Duration(static_cast<Duration::rep>(std::ceil(double(size) / rate * 1e9)));
  egress_free_[from] = start + wire;
  return egress_free_[from] - now;
}

void NetworkModel::route_packet(size_t from, size_t to, size_t size, TimePoint now, Rng& rng,
                                std::vector<TimePoint>& arrivals) {
  if (blocked(from, to)) return;
  const LinkParams p = params(from, to);
  // The sender's NIC spends its bandwidth even on packets the network then loses.
  const Duration queued = serialize(from, size, now);
  if (p.loss > 0 && rng.uniform01() < p.loss) return;
  const int copies = (p.duplicate > 0 && rng.uniform01() < p.duplicate) ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    Duration d = queued + p.latency.sample(rng);
    if (p.reorder > 0 && rng.uniform01() < p.reorder) {
      d += Duration(static_cast<Duration::rep>(
          rng.uniform(static_cast<uint64_t>(std::max<Duration::rep>(1, p.reorder_delay.count())))));
    }
    arrivals.push_back(now + d);
  }
}

Duration NetworkModel::stream_delay(size_t from, size_t to, size_t size, TimePoint now,
                                    Rng& rng) {
  const LinkParams p = params(from, to);
  Duration d = serialize(from, size, now) + p.latency.sample(rng);
  // TCP hides loss behind retransmission: each lost try costs a doubling RTO (200ms first).
  Duration rto = std::chrono::milliseconds(200);
  for (int tries = 0; tries < 6 && p.loss > 0 && rng.uniform01() < p.loss; ++tries) {
    d += rto;
    rto *= 2;
  }
  return d;
}

}  // namespace shoal::sim
