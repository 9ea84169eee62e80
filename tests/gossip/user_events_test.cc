// Serf's user events, driven in memory under virtual time: delivery to every member once,
// Lamport ordering and the too-old rule, size limits, join-time replay, and push-pull
// healing what gossip missed.
#include <catch2/catch.hpp>

#include "gossip/wire.h"
#include "tests/gossip/local_cluster.h"

namespace shoal::gossip {
namespace {

using namespace std::chrono_literals;
using test::LocalCluster;

LocalCluster converged(size_t n, uint64_t seed,
                       const std::function<void(SerfConfig&)>& adjust = nullptr) {
  LocalCluster c(seed);
  for (size_t i = 0; i < n; ++i) c.add("n" + std::to_string(i), {}, adjust);
  for (size_t i = 1; i < n; ++i) c.join("n" + std::to_string(i), "n0");
  c.run_for(5s);
  return c;
}

Bytes user_packet(const SerfUserEvent& e) {
  Bytes pkt{static_cast<uint8_t>(MessageType::user)};
  const Bytes body = encode_serf(e);
  pkt.insert(pkt.end(), body.begin(), body.end());
  return pkt;
}

TEST_CASE("a user event reaches every member exactly once", "[gossip][events]") {
  auto c = converged(10, 11);
  REQUIRE(c.serf("n3").user_event("deploy", to_bytes("v42"), true, c.now()).ok());
  c.drain("n3");
  c.run_for(5s);
  for (size_t i = 0; i < 10; ++i) {
    const auto& evs = c.user_events("n" + std::to_string(i));
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].name == "deploy");
    CHECK(evs[0].payload == to_bytes("v42"));
    CHECK(evs[0].coalesce);
  }
}

// The local profile gossips each message only 2 * ceil(log10(N + 1)) times per node, so a
// burst leaves some events missing here and there; push-pull carries the event buffer and
// heals them, as it does in serf.
TEST_CASE("a burst of events from several members reaches everyone once", "[gossip][events]") {
  auto c = converged(8, 12);
  for (int k = 0; k < 20; ++k) {
    const std::string from = "n" + std::to_string(k % 8);
    REQUIRE(c.serf(from).user_event("e" + std::to_string(k), {}, false, c.now()).ok());
    c.drain(from);
  }
  c.run_for(Config::local().push_pull_interval + 5s);
  for (size_t i = 0; i < 8; ++i) {
    std::set<std::string> names;
    for (const auto& e : c.user_events("n" + std::to_string(i))) names.insert(e.name);
    CHECK(names.size() == 20);
    CHECK(c.user_events("n" + std::to_string(i)).size() == 20);
  }
}

TEST_CASE("the same event delivered twice is reported once", "[gossip][events]") {
  auto c = converged(2, 13);
  const Bytes pkt = user_packet(SerfUserEvent{5, "dup", to_bytes("x"), false});
  c.serf("n1").handle_packet(c.addr("n0"), pkt, c.now());
  c.serf("n1").handle_packet(c.addr("n0"), pkt, c.now());
  c.drain("n1");
  REQUIRE(c.user_events("n1").size() == 1);
  // Same time, other payload: a different event.
  c.serf("n1").handle_packet(c.addr("n0"), user_packet(SerfUserEvent{5, "dup", to_bytes("y"), false}),
                             c.now());
  c.drain("n1");
  CHECK(c.user_events("n1").size() == 2);
}

TEST_CASE("receiving an event moves the event clock past it", "[gossip][events]") {
  auto c = converged(2, 14);
  c.serf("n1").handle_packet(c.addr("n0"), user_packet(SerfUserEvent{300, "e", {}, false}), c.now());
  c.drain("n1");
  CHECK(c.serf("n1").stats().event_ltime == 301);
  REQUIRE(c.serf("n1").user_event("next", {}, false, c.now()).ok());
  c.drain("n1");
  CHECK(c.user_events("n1").back().ltime == 301);
}

TEST_CASE("events older than the event buffer are not delivered", "[gossip][events]") {
  auto c = converged(2, 15, [](SerfConfig& s) { s.event_buffer = 8; });
  c.serf("n1").handle_packet(c.addr("n0"), user_packet(SerfUserEvent{100, "new", {}, false}), c.now());
  c.serf("n1").handle_packet(c.addr("n0"), user_packet(SerfUserEvent{50, "old", {}, false}), c.now());
  c.serf("n1").handle_packet(c.addr("n0"), user_packet(SerfUserEvent{95, "recent", {}, false}), c.now());
  c.drain("n1");
  REQUIRE(c.user_events("n1").size() == 2);
  CHECK(c.user_events("n1")[0].name == "new");
  CHECK(c.user_events("n1")[1].name == "recent");
  CHECK(c.serf("n1").stats().user_events_too_old == 1);
}

TEST_CASE("an event over the size limit is refused and nothing is sent", "[gossip][events]") {
  auto c = converged(2, 16);
  const Status s = c.serf("n0").user_event("big", Bytes(600, 'x'), false, c.now());
  CHECK(s.code() == Status::Code::invalid_argument);
  CHECK(s.message().find("limit is 512") != std::string::npos);
  CHECK(c.serf("n0").user_event("", {}, false, c.now()).code() == Status::Code::invalid_argument);
  c.drain("n0");
  c.run_for(2s);
  CHECK(c.user_events("n0").empty());
  CHECK(c.user_events("n1").empty());
  CHECK(c.serf("n0").stats().event_queue == 0);
}

TEST_CASE("a join that ignores old events does not replay them, a plain join does",
          "[gossip][events]") {
  auto c = converged(2, 17);
  for (int k = 0; k < 3; ++k) REQUIRE(c.serf("n0").user_event("old" + std::to_string(k), {}, false, c.now()).ok());
  c.drain("n0");
  c.run_for(3s);
  REQUIRE(c.user_events("n1").size() == 3);

  c.add("quiet");
  c.join("quiet", "n0", /*ignore_old=*/true);
  c.add("replay");
  c.join("replay", "n0", /*ignore_old=*/false);
  c.run_for(3s);
  CHECK(c.user_events("quiet").empty());
  CHECK(c.user_events("replay").size() == 3);

  // New events still reach the node that ignored the old ones.
  REQUIRE(c.serf("n1").user_event("fresh", {}, false, c.now()).ok());
  c.drain("n1");
  c.run_for(3s);
  REQUIRE(c.user_events("quiet").size() == 1);
  CHECK(c.user_events("quiet")[0].name == "fresh");
}

TEST_CASE("an event gossip could not deliver arrives with the next push-pull", "[gossip][events]") {
  auto c = converged(2, 18);
  c.cut("n0", "n1");
  REQUIRE(c.serf("n0").user_event("missed", {}, false, c.now()).ok());
  c.drain("n0");
  c.run_for(1s);  // the transmit budget (2 sends at N = 2) is spent on a cut link
  REQUIRE(c.serf("n0").stats().event_queue == 0);
  CHECK(c.user_events("n1").empty());
  c.heal();
  c.run_for(Config::local().push_pull_interval + 5s);
  REQUIRE(c.user_events("n1").size() == 1);
  CHECK(c.user_events("n1")[0].name == "missed");
}

}  // namespace
}  // namespace shoal::gossip
