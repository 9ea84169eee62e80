// Raft groups in the simulator: every shipped raft_* scenario over a sweep of seeds must hold
// every check (election safety, log matching, leader completeness, state machine safety, the
// core's invariants, a linearizable client history, liveness once faults end). A failing
// seed prints the one command that reproduces it.
//
//   SHOAL_RAFT_SIM_SEEDS=K   seeds 1..K per scenario (default below; more: simulations/raft_sweep.sh)
//   SHOAL_RAFT_SIM_SEED=N    only seed N
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <string>

#include "simulations/simulator.h"

using namespace shoal;
using namespace shoal::sim;

namespace {

std::string scenario_path(const std::string& name) {
  return std::string(SHOAL_SOURCE_DIR) + "/simulations/scenarios/" + name + ".toml";
}

std::pair<uint64_t, uint64_t> seed_range(uint64_t default_count) {
  if (const char* one = std::getenv("SHOAL_RAFT_SIM_SEED")) {
    const uint64_t s = std::strtoull(one, nullptr, 10);
    return {s, s};
  }
  uint64_t k = default_count;
  if (const char* n = std::getenv("SHOAL_RAFT_SIM_SEEDS")) k = std::strtoull(n, nullptr, 10);
  return {1, k};
}

Scenario load(const std::string& name) {
  auto sc = load_scenario(scenario_path(name));
  REQUIRE(sc.ok());
  return *sc;
}

struct Failure {
  std::string check;  // the first broken one
  std::string text;   // with the command that reproduces it
};

// Runs seeds [lo, hi] and returns the failing seeds' first broken checks.
std::vector<Failure> sweep(const std::string& name, const Scenario& sc, uint64_t lo, uint64_t hi) {
  std::vector<Failure> failures;
  for (uint64_t seed = lo; seed <= hi; ++seed) {
    RunOptions o;
    o.seed = seed;
    auto r = run_scenario(sc, o);
    REQUIRE(r.ok());
    if (r->passed) continue;
    Failure f;
    for (const auto& c : r->checks) {
      if (!c.passed) {
        f.check = c.name;
        f.text = c.name + ": " + c.detail;
        break;
      }
    }
    f.text = fmt::format("seed {}: {}\n  reproduce: shoal-sim sim run simulations/scenarios/{}.toml --seed {}",
                         seed, f.text, name, seed);
    failures.push_back(std::move(f));
  }
  return failures;
}

void sweep_scenario(const std::string& name, uint64_t default_seeds) {
  const Scenario sc = load(name);
  const auto [lo, hi] = seed_range(default_seeds);
  const auto failures = sweep(name, sc, lo, hi);
  for (const auto& f : failures) UNSCOPED_INFO(f.text);
  CHECK(failures.empty());
}

}  // namespace

// Seeds per scenario are sized so the six sweeps take about 35 s under ASan on this machine.
TEST_CASE("raft_kv_3 holds every check over a seed sweep", "[sim][raft]") { sweep_scenario("raft_kv_3", 60); }
TEST_CASE("raft_kv_5 holds every check over a seed sweep", "[sim][raft]") { sweep_scenario("raft_kv_5", 40); }
TEST_CASE("raft_crash_restart holds every check over a seed sweep", "[sim][raft]") {
  sweep_scenario("raft_crash_restart", 60);
}
TEST_CASE("raft_membership holds every check over a seed sweep", "[sim][raft]") {
  sweep_scenario("raft_membership", 40);
}
TEST_CASE("raft_quiesce holds every check over a seed sweep", "[sim][raft]") {
  sweep_scenario("raft_quiesce", 40);
}
TEST_CASE("raft_peer_down holds every check over a seed sweep", "[sim][raft]") {
  sweep_scenario("raft_peer_down", 40);
}

TEST_CASE("a raft run is a function of its seed", "[sim][raft]") {
  const Scenario sc = load("raft_kv_3");
  RunOptions o;
  o.seed = 5;
  o.csv = true;
  auto a = run_scenario(sc, o);
  auto b = run_scenario(sc, o);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->summary == b->summary);
  CHECK(a->csv == b->csv);
  CHECK(a->digest == b->digest);
  o.seed = 6;
  auto c = run_scenario(sc, o);
  REQUIRE(c.ok());
  CHECK(a->digest != c->digest);
}

TEST_CASE("the sweep catches a disk that forgets what it synced", "[sim][raft]") {
  // With amnesia, a crash wipes the node's disk: votes and acknowledged entries are gone,
  // as with a disk that acknowledges fsync without writing. Some seed must break a safety
  // check (most others lose liveness: wiped members forget the configuration).
  Scenario sc = load("raft_crash_restart");
  sc.raft.amnesia = true;
  const auto failures = sweep("raft_crash_restart", sc, 1, 30);
  size_t safety = 0;
  for (const auto& f : failures) {
    if (f.check != "recovers" && f.check != "min_writes" && f.check != "min_reads") ++safety;
  }
  INFO(failures.size() << " of 30 seeds failed, " << safety << " on a safety check");
  CHECK(safety > 0);
}

TEST_CASE("the linearizability check catches reads served from a node's own state", "[sim][raft]") {
  // Every node answers gets at once from its machine, leader or not: no safety property of
  // the log breaks, but a node cut off from the leader serves old values. Only the client
  // history shows it.
  Scenario sc = load("raft_kv_3");
  sc.raft.stale_reads = true;
  const auto failures = sweep("raft_kv_3", sc, 1, 20);
  size_t caught = 0;
  for (const auto& f : failures) {
    CHECK(f.check == "linearizable");
    if (f.check == "linearizable") ++caught;
  }
  INFO(caught << " of 20 seeds caught");
  CHECK(caught > 0);
}

TEST_CASE("raft scenario errors name the key", "[sim][raft]") {
  auto bad = parse_scenario("name = \"x\"\n[cluster]\nengine = \"raft\"\n[raft]\nnemesis = [\"meteor\"]\n", "bad.toml");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Matchers::Contains("raft.nemesis") &&
                                         Catch::Matchers::Contains("'meteor' is not a nemesis fault"));
  auto gossip = parse_scenario("name = \"x\"\n[raft]\nvoters = 3\n", "bad.toml");
  REQUIRE_FALSE(gossip.ok());
  CHECK_THAT(gossip.status().message(), Catch::Matchers::Contains("only for cluster.engine = \"raft\""));
  auto ev = parse_scenario("name = \"x\"\n[[events]]\nat = \"1s\"\nadd_voter = 3\n", "bad.toml");
  REQUIRE(ev.ok());
  CHECK_THAT(ev->validate().message(), Catch::Matchers::Contains("needs cluster.engine = \"raft\""));
}
