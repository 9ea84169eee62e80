// Every shipped scenario, over a few seeds each, must pass every check it declares.
#include <catch2/catch.hpp>
#include <filesystem>

#include "simulations/simulator.h"

using namespace shoal::sim;

namespace {

constexpr uint64_t kSeeds = 3;  // CI budget: the whole binary stays well under a minute

std::string scenario_path(const std::string& file) {
  return std::string(SHOAL_SOURCE_DIR) + "/simulations/scenarios/" + file;
}

void run_seeds(const std::string& file) {
  auto sc = load_scenario(scenario_path(file));
  REQUIRE(sc.ok());
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    RunOptions o;
    o.seed = seed;
    auto r = run_scenario(*sc, o);
    REQUIRE(r.ok());
    INFO(r->summary);
    INFO("reproduce: shoal-sim sim run simulations/scenarios/" << file << " --seed " << seed);
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
