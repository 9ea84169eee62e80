// The network model, clocks, the durable store and the event queue, each on its own.
#include <catch2/catch.hpp>

#include "simulations/durable_store.h"
#include "simulations/event_queue.h"
#include "simulations/network_model.h"
#include "simulations/node_clock.h"

using namespace shoal;
using namespace shoal::sim;
using namespace std::chrono_literals;

namespace {

double mean_ms(const LatencyDist& d, int n, uint64_t seed = 1) {
  Rng rng(seed);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += to_seconds(d.sample(rng)) * 1e3;
  return sum / n;
}

}  // namespace

TEST_CASE("latency distributions have the means they claim", "[sim][network]") {
  CHECK(mean_ms(LatencyDist::fixed(3ms), 100) == Approx(3.0));
  CHECK(mean_ms(LatencyDist::uniform(1ms, 5ms), 100000) == Approx(3.0).epsilon(0.01));
  CHECK(mean_ms(LatencyDist::normal(10ms, 2ms), 100000) == Approx(10.0).epsilon(0.01));
  const auto p = LatencyDist::pareto(1ms, 3.0);
  CHECK(to_seconds(p.mean()) * 1e3 == Approx(1.5));
  CHECK(mean_ms(p, 200000) == Approx(1.5).epsilon(0.03));
}

TEST_CASE("a pareto latency has a long tail and never goes below its minimum", "[sim][network]") {
  Rng rng(3);
  const auto p = LatencyDist::pareto(1ms, 1.5);
  Duration lo = 1h, hi{};
  for (int i = 0; i < 100000; ++i) {
    const Duration d = p.sample(rng);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  CHECK(lo >= 1ms);
  CHECK(hi > 100ms);  // P(X > 100 min) = 100^-1.5 = 1e-3: ~100 such draws
}

TEST_CASE("loss drops about the configured fraction", "[sim][network]") {
  LinkParams lp;
  lp.loss = 0.2;
  NetworkModel net(4, lp);
  Rng rng(9);
  std::vector<TimePoint> arrivals;
  const int n = 100000;
  for (int i = 0; i < n; ++i) net.route_packet(0, 1, 100, kTimeZero, rng, arrivals);
  CHECK(double(arrivals.size()) / n == Approx(0.8).epsilon(0.01));
}

TEST_CASE("duplication delivers some datagrams twice", "[sim][network]") {
  LinkParams lp;
  lp.duplicate = 0.1;
  NetworkModel net(2, lp);
  Rng rng(4);
  std::vector<TimePoint> arrivals;
  for (int i = 0; i < 10000; ++i) net.route_packet(0, 1, 100, kTimeZero, rng, arrivals);
  CHECK(double(arrivals.size()) / 10000 == Approx(1.1).epsilon(0.01));
}

TEST_CASE("partitions cut both ways, or one way, and heal by name", "[sim][network]") {
  NetworkModel net(4, LinkParams{});
  NodeSet a(4), b(4);
  a.add(0);
  b.add(1);
  b.add(2);
  net.add_partition(Partition{"p", a, b, false});
  CHECK(net.blocked(0, 1));
  CHECK(net.blocked(2, 0));
  CHECK_FALSE(net.blocked(1, 2));
  CHECK_FALSE(net.blocked(0, 3));
  net.add_partition(Partition{"q", b, a, true});  // one way: only b -> a
  CHECK(net.heal("p") == 1);
  CHECK_FALSE(net.connected(0, 1));  // q still cuts 1 -> 0
  CHECK(net.blocked(1, 0));
  CHECK_FALSE(net.blocked(0, 1));
  CHECK(net.heal("all") == 1);
  CHECK(net.connected(0, 1));

  Rng rng(1);
  std::vector<TimePoint> arrivals;
  net.add_partition(Partition{"x", a, a.complement(), false});
  net.route_packet(0, 3, 10, kTimeZero, rng, arrivals);
  CHECK(arrivals.empty());
}

TEST_CASE("link rules override defaults for matching pairs only", "[sim][network]") {
  NetworkModel net(3, LinkParams{});
  NodeSet from(3), to(3);
  from.add(0);
  to.add(1);
  LinkOverride o;
  o.loss = 1.0;
  o.latency = LatencyDist::fixed(50ms);
  net.add_rule(LinkRule{"bad", from, to, true, o});
  CHECK(net.params(0, 1).loss == 1.0);
  CHECK(net.params(1, 0).loss == 1.0);
  CHECK(net.params(0, 2).loss == 0.0);
  CHECK(net.params(1, 0).latency.mean() == 50ms);
  CHECK(net.remove_rules("bad") == 1);
  CHECK(net.params(0, 1).loss == 0.0);
}

TEST_CASE("a bandwidth cap serializes a burst", "[sim][network]") {
  LinkParams lp;
  lp.latency = LatencyDist::fixed(1ms);
  NetworkModel net(2, lp);
  net.set_bandwidth(0, 1000.0);  // 1000 B/s: a 100-byte packet takes 100ms on the wire
  Rng rng(1);
  std::vector<TimePoint> arrivals;
  for (int i = 0; i < 3; ++i) net.route_packet(0, 1, 100, kTimeZero, rng, arrivals);
  REQUIRE(arrivals.size() == 3);
  CHECK(arrivals[0] - kTimeZero == 101ms);
  CHECK(arrivals[1] - kTimeZero == 201ms);
  CHECK(arrivals[2] - kTimeZero == 301ms);
}

TEST_CASE("reordering holds some packets back", "[sim][network]") {
  LinkParams lp;
  lp.latency = LatencyDist::fixed(1ms);
  lp.reorder = 0.5;
  lp.reorder_delay = 20ms;
  NetworkModel net(2, lp);
  Rng rng(5);
  std::vector<TimePoint> arrivals;
  for (int i = 0; i < 1000; ++i) net.route_packet(0, 1, 10, kTimeZero + i * 1ms, rng, arrivals);
  size_t inversions = 0;
  for (size_t i = 1; i < arrivals.size(); ++i) inversions += arrivals[i] < arrivals[i - 1];
  CHECK(inversions > 100);
}

TEST_CASE("a skewed clock drifts, jumps forward and converts both ways", "[sim][clock]") {
  NodeClock c;
  CHECK(c.to_local(kTimeZero + 5s) == kTimeZero + 5s);
  c.set(kTimeZero + 10s, 100'000, 2s);  // 10% fast from t=10s, after a 2s jump
  CHECK(c.to_local(kTimeZero + 10s) == kTimeZero + 12s);
  CHECK(c.to_local(kTimeZero + 20s) == kTimeZero + 23s);
  CHECK(c.to_global(kTimeZero + 23s) == kTimeZero + 20s);
  CHECK(c.to_global(c.to_local(kTimeZero + 17s + 3ns)) >= kTimeZero + 17s + 3ns);
}

TEST_CASE("a crash keeps exactly what was synced", "[sim][durable]") {
  DurableStore s;
  s.put("term", {1});
  s.sync();
  s.put("term", {2});
  s.put("vote", {7});
  CHECK(s.get("term") == Bytes{2});
  s.crash();
  CHECK(s.get("term") == Bytes{1});
  CHECK_FALSE(s.get("vote").has_value());
  s.erase("term");
  s.sync();
  CHECK(s.synced().empty());
}

TEST_CASE("events at the same instant run in the order scheduled", "[sim][queue]") {
  EventQueue q;
  for (uint64_t i = 0; i < 5; ++i) {
    Event e;
    e.at = kTimeZero + 1s;
    e.id = i;
    q.push(std::move(e));
  }
  Event early;
  early.at = kTimeZero;
  early.id = 99;
  q.push(std::move(early));
  CHECK(q.pop().id == 99);
  for (uint64_t i = 0; i < 5; ++i) CHECK(q.pop().id == i);
  CHECK(q.empty());
}
