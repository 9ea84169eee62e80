// Every shipped scenario, over a few seeds each, must pass every check it declares.
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "simulations/simulator.h"

using namespace shoal::sim;

namespace {

constexpr uint64_t kSeeds = 3;  // CI budget: the whole binary stays well under a minute

// The scale scenarios (1,000 and 10,000 nodes) run here shrunk to this many nodes: the same
// timeline and checks, seconds instead of CPU-minutes. Their full size is bench work
// (docs/simulator.md).
constexpr int64_t kMaxCiNodes = 60;

// Scenarios with a TEST_CASE of their own below; every other gossip scenario is swept by
// "every other shipped gossip scenario", and raft_* ones by tests/sim/raft_sim_test.cc.
const std::set<std::string> kNamed = {
    "join_storm.toml",     "single_failure.toml", "rolling_restarts.toml", "flapping_link.toml",
    "partition_heal.toml", "slow_node.toml",      "packet_loss.toml",      "mass_failure.toml"};
const std::set<std::string> kRaft = {"raft_kv_3.toml", "raft_kv_5.toml",
                                     "raft_crash_restart.toml", "raft_membership.toml",
                                     "raft_quiesce.toml", "raft_peer_down.toml"};

std::string scenario_path(const std::string& file) {
  return std::string(SHOAL_SOURCE_DIR) + "/simulations/scenarios/" + file;
}

std::vector<std::string> shipped_files() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(scenario_path(""))) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void run_seeds(const std::string& file, uint64_t seeds = kSeeds) {
  auto sc = load_scenario(scenario_path(file));
  REQUIRE(sc.ok());
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    RunOptions o;
    o.seed = seed;
    if (sc->nodes > kMaxCiNodes) o.nodes = kMaxCiNodes;
    auto r = run_scenario(*sc, o);
    REQUIRE(r.ok());
    INFO(r->summary);
    INFO("reproduce: shoal-sim sim run simulations/scenarios/"
         << file << " --seed " << seed << (o.nodes ? " --nodes " + std::to_string(*o.nodes) : ""));
    CHECK(r->passed);
    CHECK_FALSE(r->checks.empty());
  }
}

}  // namespace

TEST_CASE("every shipped scenario file loads", "[sim][scenario]") {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(scenario_path(""))) {
    if (entry.path().extension() != ".toml") continue;
    ++n;
    auto sc = load_scenario(entry.path().string());
    INFO(entry.path().string());
    REQUIRE(sc.ok());
    CHECK(sc->validate().ok());
  }
  CHECK(n >= 8);
}

TEST_CASE("scenario join storm", "[sim][scenario]") { run_seeds("join_storm.toml"); }
TEST_CASE("scenario single failure", "[sim][scenario]") { run_seeds("single_failure.toml"); }
TEST_CASE("scenario rolling restarts", "[sim][scenario]") { run_seeds("rolling_restarts.toml"); }
TEST_CASE("scenario flapping link", "[sim][scenario]") { run_seeds("flapping_link.toml"); }
TEST_CASE("scenario partition and heal", "[sim][scenario]") { run_seeds("partition_heal.toml"); }
TEST_CASE("scenario slow node", "[sim][scenario]") { run_seeds("slow_node.toml"); }
TEST_CASE("scenario 20% packet loss", "[sim][scenario]") { run_seeds("packet_loss.toml"); }
TEST_CASE("scenario mass failure of a third", "[sim][scenario]") { run_seeds("mass_failure.toml"); }

TEST_CASE("every other shipped gossip scenario holds its checks", "[sim][scenario]") {
  // Whatever lands in simulations/scenarios/ is swept here unless a test above or the raft
  // sweep owns it, so a new scenario cannot ship without CI running it.
  size_t swept = 0;
  for (const auto& file : shipped_files()) {
    if (kNamed.count(file) || kRaft.count(file)) continue;
    INFO(file);
    run_seeds(file, 2);
    ++swept;
  }
  CHECK(swept >= 3);  // scale_failure, scale_10k, divergence_10
}

TEST_CASE("every raft scenario is swept by raft_sim_test", "[sim][scenario]") {
  for (const auto& file : shipped_files()) {
    auto sc = load_scenario(scenario_path(file));
    REQUIRE(sc.ok());
    INFO(file);
    CHECK((sc->engine == "raft") == (kRaft.count(file) > 0));
  }
}

TEST_CASE("Lifeguard cuts false positives in the slow-node scenario tenfold", "[sim][scenario][lifeguard]") {
  // The Lifeguard paper's claim, on the shipped scenario: the same seeds with gossip.lifeguard
  // off (plain SWIM) declare healthy nodes dead far more often (docs/simulator.md: 1 against
  // 1,674 over seeds 1..10).
  auto sc = load_scenario(scenario_path("slow_node.toml"));
  REQUIRE(sc.ok());
  uint64_t on = 0, off = 0;
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    RunOptions o;
    o.seed = seed;
    Scenario swim = *sc;
    swim.gossip.lifeguard = false;
    auto a = run_scenario(*sc, o);
    auto b = run_scenario(swim, o);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    on += a->false_positives;
    off += b->false_positives;
  }
  INFO("false positives: Lifeguard on " << on << ", off " << off);
  CHECK(off >= 50);
  CHECK(10 * on <= off);
}

TEST_CASE("a broken check fails the run", "[sim][scenario]") {
  // Detection cannot take under a second with LAN timing: the check must catch it.
  auto sc = load_scenario(scenario_path("single_failure.toml"));
  REQUIRE(sc.ok());
  sc->checks.detect_within = std::chrono::milliseconds(500);
  auto r = run_scenario(*sc, RunOptions{});
  REQUIRE(r.ok());
  CHECK_FALSE(r->passed);
  CHECK(r->summary.find("FAIL") != std::string::npos);
}
