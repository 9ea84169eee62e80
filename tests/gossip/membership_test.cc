// The membership rules of memberlist + Serf, driven in memory under virtual time.
#include <catch2/catch.hpp>

#include "tests/gossip/local_cluster.h"

namespace shoal::gossip {
namespace {

using namespace std::chrono_literals;
using test::LocalCluster;

std::vector<std::string> names(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("n" + std::to_string(i));
  return out;
}

// Builds n nodes that all joined n0 and have had time to converge.
LocalCluster converged(size_t n, uint64_t seed) {
  LocalCluster c(seed);
  for (const auto& name : names(n)) c.add(name, {{"role", "test"}, {"name", name}});
  for (size_t i = 1; i < n; ++i) c.join("n" + std::to_string(i), "n0");
  c.run_for(5s);
  return c;
}

TEST_CASE("a joining node and its seed see each other alive with tags", "[gossip][serf]") {
  LocalCluster c(1);
  c.add("a", {{"role", "web"}});
  c.add("b", {{"role", "db"}, {"dc", "x"}});
  c.join("b", "a");
  REQUIRE(c.joins("b").size() == 1);
  CHECK(c.joins("b")[0].joined == 1);
  CHECK(c.joins("b")[0].errors.empty());
  c.run_for(2s);
  CHECK(c.status("a", "b") == MemberStatus::alive);
  CHECK(c.status("b", "a") == MemberStatus::alive);
  for (const auto& m : c.serf("a").members()) {
    if (m.name == "b") CHECK(m.tags == std::map<std::string, std::string>{{"role", "db"}, {"dc", "x"}});
  }
}

TEST_CASE("joining an address nobody listens on reports the failure", "[gossip][serf]") {
  LocalCluster c(2);
  c.add("a");
  c.serf("a").join({*Address::parse("127.0.0.1:1")}, false, c.now());
  c.run_for(1s);
  // LocalCluster answers unknown addresses with "connection refused" synchronously.
}

TEST_CASE("every node of a 10-node cluster converges to 10 alive", "[gossip][serf]") {
  auto c = converged(10, 3);
  for (const auto& name : names(10)) CHECK(c.count(name, MemberStatus::alive) == 10);
}

TEST_CASE("a crashed node is declared failed by every survivor", "[gossip][serf]") {
  auto c = converged(6, 4);
  c.crash("n3");
  c.run_for(30s);
  for (const auto& name : names(6)) {
    if (name == "n3") continue;
    CHECK(c.status(name, "n3") == MemberStatus::failed);
    CHECK(c.count(name, MemberStatus::alive) == 5);
  }
}

TEST_CASE("a graceful leave is seen as left, not failed", "[gossip][serf]") {
  auto c = converged(5, 5);
  c.leave("n2");
  c.run_for(10s);
  CHECK(c.left("n2"));
  for (const auto& name : names(5)) {
    if (name == "n2") continue;
    CHECK(c.status(name, "n2") == MemberStatus::left);
  }
}

TEST_CASE("tag changes reach every member", "[gossip][serf]") {
  auto c = converged(5, 6);
  REQUIRE(c.serf("n1").set_tags({{"role", "changed"}}, c.now()).ok());
  // Gossip reaches everyone with high probability (the local profile sends each broadcast
  // only twice per node); push-pull, every 15 s here, makes sure of the rest.
  c.run_for(20s);
  for (const auto& name : names(5)) {
    for (const auto& m : c.serf(name).members()) {
      if (m.name == "n1") CHECK(m.tags.at("role") == "changed");
    }
  }
}

TEST_CASE("tags larger than the meta limit are refused", "[gossip][serf]") {
  auto c = converged(2, 7);
  std::map<std::string, std::string> big{{"blob", std::string(600, 'x')}};
  Status s = c.serf("n0").set_tags(big, c.now());
  CHECK(s.is(Status::Code::invalid_argument));
}

TEST_CASE("a crashed node restarted under its name is alive again everywhere",
          "[gossip][serf]") {
  auto c = converged(5, 8);
  c.crash("n4");
  c.run_for(30s);
  REQUIRE(c.status("n0", "n4") == MemberStatus::failed);
  c.restart("n4", "n0");
  c.run_for(10s);
  for (const auto& name : names(5)) CHECK(c.status(name, "n4") == MemberStatus::alive);
}

TEST_CASE("a brief partition is refuted, not turned into a failure", "[gossip][lifeguard]") {
  auto c = converged(6, 9);
  // n5 cannot talk to n0 for less than the suspicion timeout; others still reach both.
  c.cut("n0", "n5");
  c.run_for(2s);
  c.heal();
  c.run_for(10s);
  for (const auto& name : names(6)) CHECK(c.count(name, MemberStatus::alive) == 6);
}

TEST_CASE("force-leave turns a failed member into left, and prune forgets it",
          "[gossip][serf]") {
  auto c = converged(4, 10);
  c.crash("n3");
  c.run_for(30s);
  REQUIRE(c.status("n0", "n3") == MemberStatus::failed);
  CHECK(c.serf("n0").force_leave("n1", false, c.now()).is(Status::Code::failed_precondition));
  CHECK(c.serf("n0").force_leave("nobody", false, c.now()).is(Status::Code::not_found));
  REQUIRE(c.serf("n0").force_leave("n3", false, c.now()).ok());
  c.run_for(3s);
  for (const auto& name : {"n0", "n1", "n2"}) CHECK(c.status(name, "n3") == MemberStatus::left);
  REQUIRE(c.serf("n0").force_leave("n3", true, c.now()).ok());
  c.run_for(3s);
  CHECK(c.status("n0", "n3") == MemberStatus::none);
}

TEST_CASE("failed members are reaped after the reconnect timeout", "[gossip][serf]") {
  LocalCluster c(11);
  // Shorten the timeouts on the observer only.
  c.add("n0", {}, [](SerfConfig& cfg) { cfg.reconnect_timeout = std::chrono::minutes(2); });
  c.add("n1");
  c.add("n2");
  c.join("n1", "n0");
  c.join("n2", "n0");
  c.run_for(3s);
  c.crash("n2");
  c.run_for(30s);
  REQUIRE(c.status("n0", "n2") == MemberStatus::failed);
  bool reaped = false;
  c.run_for(std::chrono::minutes(3));  // reap runs every 15 s
  for (const auto& e : c.events("n0")) reaped |= e.type == MemberEventType::reap && e.member.name == "n2";
  CHECK(reaped);
  CHECK(c.status("n0", "n2") == MemberStatus::none);
}

TEST_CASE("next_wakeup never lies in the past after a tick, even while a probe is stretched",
          "[gossip][lifeguard]") {
  auto c = converged(4, 12);
  // n0 hears nobody: its probes fail without nacks, so Lifeguard raises its health score
  // and stretches its probes past the next probe slot.
  for (const auto& other : {"n1", "n2", "n3"}) c.cut("n0", other);
  int stretched = 0;
  for (int i = 0; i < 100; ++i) {
    c.run_for(std::chrono::milliseconds(100));
    CHECK(c.serf("n0").next_wakeup() > c.now());
    stretched = std::max(stretched, c.serf("n0").stats().health_score);
  }
  CHECK(stretched > 0);
}

TEST_CASE("with Lifeguard off, health never moves and failures still get detected",
          "[gossip][lifeguard]") {
  LocalCluster c(13);
  for (const auto& name : names(5)) {
    c.add(name, {}, [](SerfConfig& sc) { sc.memberlist.lifeguard = false; });
  }
  for (size_t i = 1; i < 5; ++i) c.join("n" + std::to_string(i), "n0");
  c.run_for(5s);
  // The same isolation that stretches n0's probes above leaves plain SWIM unmoved.
  for (const auto& other : {"n1", "n2", "n3", "n4"}) c.cut("n0", other);
  for (int i = 0; i < 50; ++i) {
    c.run_for(std::chrono::milliseconds(100));
    REQUIRE(c.serf("n0").stats().health_score == 0);
  }
  c.heal();
  c.run_for(20s);
  c.crash("n4");
  c.run_for(30s);
  for (const auto& name : names(4)) CHECK(c.status(name, "n4") == MemberStatus::failed);
}

}  // namespace
}  // namespace shoal::gossip
