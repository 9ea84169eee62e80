// A seed is a bug report: the same seed must give the same bytes, and seeds must matter.
#include <catch2/catch.hpp>

#include "simulations/simulator.h"

using namespace shoal::sim;

namespace {

Scenario faulty_scenario() {
  // A bit of everything random: latency, loss, duplication, reordering, random kills,
  // a partition, a slow node, skew, restarts, streams.
  auto sc = parse_scenario(R"(
name = "determinism"
duration = "45s"
[cluster]
nodes = 12
engine = "serf"
profile = "lan"
join_window = "2s"
[network]
latency = { dist = "pareto", min = "1ms", shape = 2.0 }
loss = 0.02
duplicate = 0.02
reorder = 0.05
[[events]]
at = "8s"
kill = { random = 2 }
[[events]]
at = "10s"
partition = { nodes = [0, 1], name = "p" }
[[events]]
at = "12s"
slow = { nodes = 5, delay = "700ms" }
[[events]]
at = "14s"
skew = { nodes = 6, drift_ppm = 20000, jump = "1s" }
[[events]]
at = "20s"
heal = "p"
[[events]]
at = "22s"
restart = { random = 2 }
[[events]]
at = "25s"
pause = { nodes = 7, for = "3s" }
)", "determinism.toml");
  REQUIRE(sc.ok());
  return std::move(*sc);
}

RunReport run(const Scenario& sc, uint64_t seed) {
  RunOptions o;
  o.seed = seed;
  o.csv = true;
  o.svg = true;
  auto r = run_scenario(sc, o);
  REQUIRE(r.ok());
  return std::move(*r);
}

}  // namespace

TEST_CASE("the same seed gives byte-identical output", "[sim][determinism]") {
  const Scenario sc = faulty_scenario();
  const RunReport a = run(sc, 42);
  const RunReport b = run(sc, 42);
  CHECK(a.digest == b.digest);
  CHECK(a.summary == b.summary);
  CHECK(a.csv == b.csv);
  CHECK(a.svg == b.svg);
  CHECK(a.events > 1000);
  CHECK(a.csv.size() > 1000);
  CHECK(a.svg.find("<svg") == 0);
}

TEST_CASE("different seeds give different runs", "[sim][determinism]") {
  const Scenario sc = faulty_scenario();
  const RunReport a = run(sc, 1);
  const RunReport b = run(sc, 2);
  CHECK(a.digest != b.digest);
  CHECK(a.csv != b.csv);
}

TEST_CASE("the memberlist engine is deterministic too", "[sim][determinism]") {
  Scenario sc = faulty_scenario();
  sc.engine = "memberlist";
  CHECK(run(sc, 7).csv == run(sc, 7).csv);
}

TEST_CASE("warm start and plain SWIM are deterministic too and seeds still matter",
          "[sim][determinism]") {
  // The bench's path (bench/sim_gossip): a converged start through learn_quietly, Lifeguard
  // off, slow nodes and a kill.
  auto sc = parse_scenario(R"(
name = "determinism-warm"
duration = "40s"
[cluster]
nodes = 40
engine = "memberlist"
warm_start = true
[gossip]
lifeguard = false
[network]
latency = { dist = "normal", mean = "1ms", stddev = "250us" }
loss = 0.01
[[events]]
at = "5s"
slow = { nodes = { fraction = 0.1 }, delay = "3s" }
[[events]]
at = "20s"
kill = { random = 1 }
)", "determinism-warm.toml");
  REQUIRE(sc.ok());
  const RunReport a = run(*sc, 5);
  const RunReport b = run(*sc, 5);
  CHECK(a.digest == b.digest);
  CHECK(a.summary == b.summary);
  CHECK(a.csv == b.csv);
  CHECK(a.svg == b.svg);
  const RunReport c = run(*sc, 6);
  CHECK(a.digest != c.digest);
  CHECK(a.csv != c.csv);
}
