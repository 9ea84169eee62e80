// Serf user events in the simulator: the `event` action sends them through the real
// gossip::Serf, the observer tracks who must get each one, and events_within judges them.
#include <catch2/catch.hpp>

#include <string>

#include "simulations/simulator.h"

using namespace shoal::sim;
using Catch::Matchers::Contains;

namespace {

// Ten Serf nodes that have long converged when the events go out, unless `events` adds
// faults; `events` is appended as [[events]] entries.
// n9 is cut off from everyone at 5 s, and n0 sends an event at 6 s.
constexpr const char* kCutOffWhileSent = R"(
[[events]]
at = "5s"
partition = { nodes = 9, name = "p" }
[[events]]
at = "6s"
event = 0
)";

Scenario small_cluster(const std::string& events) {
  auto sc = parse_scenario(R"(
name = "user-events-small"
duration = "30s"
[cluster]
nodes = 10
engine = "serf"
profile = "lan"
join_window = "1s"
[network]
latency = { dist = "uniform", min = "500us", max = "3ms" }
[checks]
events_within = "2s"
)" + events, "small.toml");
  REQUIRE(sc.ok());
  return std::move(*sc);
}

RunReport run(const Scenario& sc, uint64_t seed = 1) {
  RunOptions o;
  o.seed = seed;
  auto r = run_scenario(sc, o);
  REQUIRE(r.ok());
  return std::move(*r);
}

const CheckOutcome& events_check(const RunReport& r) {
  for (const auto& c : r.checks) {
    if (c.name.rfind("events_within", 0) == 0) return c;
  }
  FAIL("no events_within check in the report");
  return r.checks.front();
}

}  // namespace

TEST_CASE("user events reach every node of a healthy cluster", "[sim][events]") {
  const Scenario sc = small_cluster(R"(
[[events]]
at = "300ms"
event = 0
[[events]]
at = "5s"
event = { nodes = { random = 2 }, count = 2 }
)");
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const RunReport r = run(sc, seed);
    INFO(r.summary);
    CHECK(r.passed);
    CHECK(events_check(r).passed);
    REQUIRE(r.user_events.size() == 5);
    CHECK(r.user_events[0].name == "ev-0");
    CHECK(r.user_events[4].name == "ev-4");
    // At 300 ms only the nodes booted by then must get the first event.
    CHECK(r.user_events[0].required < 10);
    for (const auto& e : r.user_events) {
      CHECK(e.all.has_value());
      CHECK(e.pending == 0);
      CHECK(e.at[e.sender] == e.sent);  // Serf delivers the sender's own copy at once
    }
    for (size_t k = 1; k < 5; ++k) CHECK(r.user_events[k].required == 10);
    CHECK_THAT(r.summary, Contains("user events: 5 sent, 5 reached every node that must get it"));
    CHECK_THAT(r.summary, Contains("5 within 2s; deliveries missing at the end: 0"));
    CHECK_THAT(r.summary, Contains("4 user events from n"));  // the timeline line
  }
  CHECK(run(sc, 7).summary == run(sc, 7).summary);
}

TEST_CASE("a node cut off while an event goes out fails events_within, named", "[sim][events]") {
  // n9 is cut off from everyone when n0 sends, and stays so until 20 s: it can only get the
  // event after the heal, far past the 2 s deadline.
  const Scenario sc = small_cluster(std::string(kCutOffWhileSent) + R"(
[[events]]
at = "20s"
heal = "p"
)");
  const RunReport r = run(sc);
  INFO(r.summary);
  CHECK_FALSE(r.passed);
  const CheckOutcome& c = events_check(r);
  CHECK_FALSE(c.passed);
  CHECK_THAT(c.detail, Contains("1 of 1 event(s) late; worst ev-0 from n0 at 6.000s"));
  CHECK_THAT(c.detail, Contains("lacking it after 2s: n9 ("));
  REQUIRE(r.user_events.size() == 1);
  const auto& e = r.user_events[0];
  CHECK(e.required == 10);
  // Everyone else had it within the deadline; n9 is the only one named.
  for (size_t i = 0; i < 9; ++i) CHECK(e.at[i] - e.sent <= std::chrono::seconds(2));
  CHECK(e.lacking(e.sent + std::chrono::seconds(2)).rfind("n9 (", 0) == 0);
}

TEST_CASE("an event never delivered is reported missing at the end", "[sim][events]") {
  const Scenario sc = small_cluster(kCutOffWhileSent);
  const RunReport r = run(sc);
  INFO(r.summary);
  const CheckOutcome& c = events_check(r);
  CHECK_FALSE(c.passed);
  CHECK_THAT(c.detail, Contains("never reached 1 of 10 node(s)"));
  CHECK_THAT(c.detail, Contains("n9 (never)"));
  CHECK_THAT(r.summary, Contains("deliveries missing at the end: 1"));
  CHECK_THAT(r.summary, Contains("missing at n9 (never)"));
}

TEST_CASE("a node killed or restarted before its copy came is not waited for", "[sim][events]") {
  // As above, but n9 goes down one second after the send: the others all got the event in
  // time, so the check passes; a restarted n9 is a new process the event was not sent to.
  for (const std::string fault : {"kill", "restart"}) {
    INFO(fault);
    const Scenario sc = small_cluster(R"(
[[events]]
at = "5s"
partition = { nodes = 9, name = "p" }
[[events]]
at = "6s"
event = 0
[[events]]
at = "7s"
)" + fault + " = 9\n");
    const RunReport r = run(sc);
    INFO(r.summary);
    CHECK(events_check(r).passed);
    REQUIRE(r.user_events.size() == 1);
    const auto& e = r.user_events[0];
    CHECK(e.excused == 1);
    CHECK(e.pending == 0);
    REQUIRE(e.all.has_value());
    CHECK(*e.all - e.sent <= std::chrono::seconds(2));
  }
}

TEST_CASE("an event sent too close to the end is not judged", "[sim][events]") {
  // Cut off as before, but the run ends 1 s after the send: the 2 s deadline never passed.
  Scenario sc = small_cluster(R"(
[[events]]
at = "5s"
partition = { nodes = 9, name = "p" }
[[events]]
at = "29s"
event = 0
)");
  const RunReport r = run(sc);
  INFO(r.summary);
  CHECK(events_check(r).passed);
  CHECK_THAT(events_check(r).detail, Contains("0 event(s) reached every node in time"));
  CHECK_THAT(r.summary, Contains("deliveries missing at the end: 1"));
}

TEST_CASE("the memberlist engine refuses to run user events", "[sim][events]") {
  Scenario sc = small_cluster("[[events]]\nat = \"5s\"\nevent = 0\n");
  sc.engine = "memberlist";
  sc.checks.events_within.reset();
  auto r = run_scenario(sc, RunOptions{});
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Contains("needs cluster.engine = \"serf\""));
}

TEST_CASE("a 50-node join storm: every event reaches every node within 2 s, 20 seeds",
          "[sim][events][gossip]") {
  // The regression guard of gossip's urgent broadcasts (memberlist_delegate.h): before
  // them, 8 of 200 seeds of this scenario failed, events late behind the storm's alive
  // messages or missing at one node until push-pull (docs/simulator.md).
  auto sc = load_scenario(std::string(SHOAL_SOURCE_DIR) +
                          "/simulations/scenarios/user_events.toml");
  REQUIRE(sc.ok());
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const RunReport r = run(*sc, seed);
    INFO("reproduce: shoal-sim sim run simulations/scenarios/user_events.toml --seed " << seed);
    INFO(r.summary);
    CHECK(events_check(r).passed);
    CHECK_THAT(r.summary, Contains("deliveries missing at the end: 0"));
  }
}
