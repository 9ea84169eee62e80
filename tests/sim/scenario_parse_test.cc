// Bad scenario files get an error naming the file, the line, the key and the problem.
#include <catch2/catch.hpp>

#include "simulations/scenario.h"

using namespace shoal::sim;
using Catch::Matchers::Contains;

namespace {

std::string error_of(const std::string& text) {
  auto sc = parse_scenario(text, "bad.toml");
  REQUIRE_FALSE(sc.ok());
  return sc.status().message();
}

}  // namespace

TEST_CASE("a full scenario parses", "[sim][scenario]") {
  auto sc = parse_scenario(R"(
name = "x"
duration = "30s"
[cluster]
nodes = 9
profile = "wan"
engine = "memberlist"
[gossip]
awareness_max_multiplier = 1
[network]
latency = { dist = "uniform", min = "1ms", max = "3ms" }
loss = 0.01
[[events]]
at = "5s"
kill = [1, -1]
[[events]]
at = "2s"
flap = { nodes = 2, period = "4s", down = "1s", until = "10s" }
[checks]
detect_within = "20s"
)", "x.toml");
  REQUIRE(sc.ok());
  CHECK(sc->nodes == 9);
  CHECK(sc->gossip.profile_name == "wan");
  CHECK(sc->gossip.awareness_max_multiplier == 1);
  CHECK(sc->engine == "memberlist");
  CHECK(sc->timeline.size() == 1 + 2 * 2);  // the flap expands to cut/heal pairs
  CHECK(sc->timeline.front().at == std::chrono::seconds(2));  // sorted by time
  CHECK(sc->validate().ok());
}

TEST_CASE("errors name file, line, key and problem", "[sim][scenario]") {
  CHECK_THAT(error_of("name = \"x\"\nduration = \"ten seconds\"\n"),
             Contains("bad.toml:2: duration:") && Contains("not a duration"));
  CHECK_THAT(error_of("name = \"x\"\n[cluster]\nnodez = 3\n"),
             Contains("bad.toml:3: cluster.nodez: unknown key"));
  CHECK_THAT(error_of("name = \"x\"\n[[events]]\nat = \"1s\"\nkill = 1.5\n"),
             Contains("events[0].kill") && Contains("node index"));
  CHECK_THAT(error_of("name = \"x\"\n[[events]]\nkill = 1\n"), Contains("events[0]: missing 'at'"));
  CHECK_THAT(error_of("name = \"x\"\n[network]\nloss = 1.5\n"),
             Contains("network.loss") && Contains("not a probability"));
  CHECK_THAT(error_of("name = \"x\"\n[network]\nlatency = { dist = \"cauchy\" }\n"),
             Contains("network.latency.dist") && Contains("cauchy"));
  CHECK_THAT(error_of("name = \"x\"\n[cluster]\nprofile = \"moon\"\n"), Contains("cluster.profile"));
  CHECK_THAT(error_of("name = [1\n"), Contains("bad.toml:1: TOML syntax"));
  CHECK_THAT(error_of("duration = \"1s\"\n"), Contains("name: missing"));
  CHECK_THAT(error_of("name = \"x\"\n[[events]]\nat = \"1s\"\nkill = 1\nheal = \"all\"\n"),
             Contains("one fault per entry"));
}

TEST_CASE("node indices are checked against the cluster size", "[sim][scenario]") {
  auto sc = parse_scenario("name = \"x\"\n[cluster]\nnodes = 5\n[[events]]\nat = \"1s\"\nkill = 7\n", "k.toml");
  REQUIRE(sc.ok());
  const auto s = sc->validate();
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.message(), Contains("k.toml: events[0]: node 7 is out of range for a cluster of 5"));
}

TEST_CASE("a missing file is a clear error", "[sim][scenario]") {
  auto sc = load_scenario("/nonexistent/x.toml");
  REQUIRE_FALSE(sc.ok());
  CHECK_THAT(sc.status().message(), Contains("/nonexistent/x.toml"));
}
