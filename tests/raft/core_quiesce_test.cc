// Quiescence (Config::quiesce_after): an idle group stops heartbeating, wakes for work,
// and elects a new leader when the shell reports the old one down.
#include <catch2/catch.hpp>

#include "tests/raft/test_network.h"

namespace shoal::raft {
namespace {

using test::Network;

Config quiet_config() {
  Config c = Config::local();
  c.quiesce_after = 300ms;
  return c;
}

bool all_quiet(Network& net) {
  for (const auto& id : net.ids()) {
    if (net.up(id) && !net.core(id).quiesced()) {
      auto st = net.core(id).status();
      UNSCOPED_INFO(id << " role=" << role_name(st.role) << " commit=" << st.commit << " last=" << st.last_index << " persisted=" << net.core(id).log().persisted_index());
      for (auto& p : st.peers) UNSCOPED_INFO("  peer " << p.id << " match=" << p.match << " state=" << progress_state_name(p.state));
      return false;
    }
  }
  return true;
}

// Elects "a", commits one write, and lets the group go quiet.
void quiet_after_a_write(Network& net) {
  net.elect("a");
  net.propose("a", "x");
  net.run_for(1s);
  REQUIRE(all_quiet(net));
}

// Counts what is sent from now on.
struct Counter {
  explicit Counter(Network& net) {
    net.filter = [this](const Message&) {
      ++sent;
      return true;
    };
  }
  size_t sent = 0;
};

TEST_CASE("quiesce_anIdleGroupGoesQuietAndSendsNothing", "[raft][quiesce]") {
  Network net({"a", "b", "c"}, 1, quiet_config());
  quiet_after_a_write(net);
  Counter counter(net);
  const Term term = net.core("a").term();
  net.run_for(10s);
  CHECK(counter.sent == 0);
  CHECK(all_quiet(net));
  CHECK(net.core("a").role() == Role::leader);
  CHECK(net.core("a").term() == term);
  for (const auto& id : net.ids()) CHECK(net.member(id).wake_at == kTimeNever);
}

TEST_CASE("quiesce_offByDefault", "[raft][quiesce]") {
  Network net({"a", "b", "c"}, 2);
  net.elect("a");
  net.run_for(2s);
  CHECK_FALSE(net.core("a").quiesced());
  CHECK_FALSE(net.core("b").quiesced());
}

TEST_CASE("quiesce_aProposalWakesTheGroupThenItGoesQuietAgain", "[raft][quiesce]") {
  Network net({"a", "b", "c"}, 3, quiet_config());
  net.elect("a");
  net.run_for(1s);
  REQUIRE(all_quiet(net));
  const LogPosition at = net.propose("a", "y");
  net.run_for(100ms);
  for (const auto& id : net.ids()) CHECK(net.core(id).commit_index() >= at.index);
  net.run_for(1s);
  CHECK(all_quiet(net));
  CHECK(net.member("b").machine.hash == net.member("a").machine.hash);
}

TEST_CASE("quiesce_aReadOnAQuietLeaderIsServed", "[raft][quiesce]") {
  Network net({"a", "b", "c"}, 4, quiet_config());
  quiet_after_a_write(net);
  net.step("a", ReadIndex{7});
  net.run_for(200ms);
  REQUIRE(net.member("a").reads.size() == 1);
  CHECK(net.member("a").reads[0].id == 7);
  CHECK(net.member("a").read_failures.empty());
}

TEST_CASE("quiesce_peerDownOfTheLeaderElectsANewOne", "[raft][quiesce]") {
  Network net({"a", "b", "c"}, 5, quiet_config());
  quiet_after_a_write(net);
  const Term term = net.core("b").term();
  net.crash("a");
  // Without word from the failure detector, quiet followers wait (the shell's contract).
  net.run_for(5s);
  CHECK(net.leader().empty());
  net.step("b", PeerDown{"a"});
  net.step("c", PeerDown{"a"});
  net.run_for(3s);
  const NodeId leader = net.leader();
  REQUIRE((leader == "b" || leader == "c"));
  CHECK(net.core(leader).term() > term);
  net.propose(leader, "after");
  net.run_for(100ms);
  CHECK(net.member("b").machine.hash == net.member("c").machine.hash);
}

TEST_CASE("quiesce_peerDownOfAnotherNodeChangesNothing", "[raft][quiesce]") {
  Network net({"a", "b", "c"}, 6, quiet_config());
  net.elect("a");
  net.run_for(1s);
  REQUIRE(all_quiet(net));
  net.step("b", PeerDown{"c"});
  net.step("a", PeerDown{"c"});
  CHECK(all_quiet(net));
}

TEST_CASE("quiesce_aRestartedFollowerCannotDeposeAQuietLeader", "[raft][quiesce]") {
  Network net({"a", "b", "c"}, 7, quiet_config());
  quiet_after_a_write(net);
  const Term term = net.core("a").term();
  net.crash("c");
  net.restart("c");  // campaigns after its election timeout
  net.run_for(5s);
  CHECK(net.core("a").role() == Role::leader);
  CHECK(net.core("a").term() == term);
  CHECK(net.core("c").leader() == "a");
  CHECK(all_quiet(net));
}

TEST_CASE("quiesce_aRestartedLeaderIsReplacedWithoutPeerDown", "[raft][quiesce]") {
  // The leader comes back before the failure detector noticed: its vote requests tell its
  // quiet followers that it no longer leads.
  Network net({"a", "b", "c"}, 8, quiet_config());
  quiet_after_a_write(net);
  const Term term = net.core("a").term();
  net.crash("a");
  net.restart("a");
  net.run_for(5s);
  const NodeId leader = net.leader();
  REQUIRE_FALSE(leader.empty());
  CHECK(net.core(leader).term() > term);
  net.propose(leader, "after");
  net.run_for(100ms);
  CHECK(net.member("a").machine.hash == net.member("b").machine.hash);
  CHECK(net.member("b").machine.hash == net.member("c").machine.hash);
}

TEST_CASE("quiesce_aLostQuiesceHeartbeatHealsWithoutAnElection", "[raft][quiesce]") {
  Network net({"a", "b", "c"}, 9, quiet_config());
  net.elect("a");
  net.propose("a", "x");
  int dropped = 0;
  net.filter = [&](const Message& m) {
    const auto* hb = std::get_if<Heartbeat>(&m);
    if (hb && hb->quiesce && hb->to == "c" && dropped < 1) {
      ++dropped;
      return false;
    }
    return true;
  };
  const Term term = net.core("a").term();
  net.run_for(10s);
  CHECK(dropped == 1);
  CHECK(all_quiet(net));
  CHECK(net.core("a").role() == Role::leader);
  CHECK(net.core("a").term() == term);
}

TEST_CASE("quiesce_aFollowerBehindKeepsTheGroupAwake", "[raft][quiesce]") {
  Network net({"a", "b", "c"}, 10, quiet_config());
  net.elect("a");
  net.isolate("c");
  net.propose("a", "x");
  net.run_for(2s);
  CHECK_FALSE(net.core("a").quiesced());  // c has not caught up
  net.heal();
  net.run_for(2s);
  CHECK(all_quiet(net));
  CHECK(net.member("c").machine.hash == net.member("a").machine.hash);
}

}  // namespace
}  // namespace shoal::raft
