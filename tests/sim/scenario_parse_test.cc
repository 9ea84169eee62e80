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

TEST_CASE("the event action and the events_within check parse", "[sim][scenario][events]") {
  auto sc = parse_scenario(R"(
name = "x"
[[events]]
at = "1s"
event = { nodes = { random = 3 }, count = 2 }
[[events]]
at = "2s"
event = [0, 1]
[[events]]
at = "3s"
event = { random = 2 }
[checks]
events_within = "2s"
)", "x.toml");
  REQUIRE(sc.ok());
  REQUIRE(sc->timeline.size() == 3);
  const auto& a = sc->timeline[0];
  CHECK(a.kind == FaultEvent::Kind::event);
  CHECK(a.nodes.kind == NodeSelector::Kind::random);
  CHECK(a.nodes.count == 3);
  CHECK(a.count == 2);
  const auto& b = sc->timeline[1];
  CHECK(b.kind == FaultEvent::Kind::event);
  CHECK(b.nodes.indices == std::vector<int64_t>{0, 1});
  CHECK(b.count == 1);  // the default
  CHECK(sc->timeline[2].nodes.kind == NodeSelector::Kind::random);  // a bare selector table
  CHECK(sc->timeline[2].nodes.count == 2);
  CHECK(sc->checks.events_within == std::chrono::seconds(2));
  CHECK(sc->validate().ok());  // the serf engine is the default
}

TEST_CASE("a bad event action or events_within is a clear error", "[sim][scenario][events]") {
  const std::string head = "name = \"x\"\n[[events]]\nat = \"1s\"\n";
  CHECK_THAT(error_of(head + "event = { nodes = 1, count = 0 }\n"),
             Contains("bad.toml:4: events[0].event.count: 0 is out of range [1, 10000]"));
  CHECK_THAT(error_of(head + "event = { nodes = 1, count = \"two\" }\n"),
             Contains("events[0].event.count: expected an integer"));
  CHECK_THAT(error_of(head + "event = { nodes = 1, payload = \"x\" }\n"),
             Contains("events[0].event.payload: unknown key (allowed here: nodes, count)"));
  CHECK_THAT(error_of(head + "event = { count = 2 }\n"),
             Contains("bad.toml:4: events[0].event: missing 'nodes'"));
  CHECK_THAT(error_of(head + "event = { nodes = \"some\" }\n"),
             Contains("events[0].event.nodes") && Contains("not a node set"));
  CHECK_THAT(error_of(head + "event = 1.5\n"), Contains("events[0].event") && Contains("node index"));
  CHECK_THAT(error_of("name = \"x\"\n[checks]\nevents_within = 2\n"),
             Contains("bad.toml:3: checks.events_within: expected a duration"));
  CHECK_THAT(error_of("name = \"x\"\n[checks]\nevents_within = \"soon\"\n"),
             Contains("bad.toml:3: checks.events_within: 'soon' is not a duration"));
}

TEST_CASE("only the serf engine takes user events", "[sim][scenario][events]") {
  auto action = parse_scenario(
      "name = \"x\"\n[cluster]\nengine = \"memberlist\"\n[[events]]\nat = \"1s\"\nevent = 0\n",
      "m.toml");
  REQUIRE(action.ok());
  const auto s = action->validate();
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.message(), Contains("m.toml: events[0]: event sends Serf user events and needs "
                                   "cluster.engine = \"serf\" (this is \"memberlist\")"));
  auto check = parse_scenario(
      "name = \"x\"\n[cluster]\nengine = \"raft\"\n[checks]\nevents_within = \"2s\"\n", "r.toml");
  REQUIRE(check.ok());
  CHECK_THAT(check->validate().message(),
             Contains("r.toml: checks.events_within judges Serf user events and needs cluster.engine = \"serf\""));
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
