// Elections, one test per rule of the Raft paper (§5.2, §5.4.1) and of the dissertation's
// additions (pre-vote §9.6, check-quorum and leader stickiness §4.2.3, §6.2).
#include <catch2/catch.hpp>

#include "tests/raft/test_network.h"

namespace shoal::raft {
namespace {

using test::Network;
using test::of_type;

Config no_pre_vote() {
  Config c = Config::local();
  c.pre_vote = false;
  c.check_quorum = false;
  return c;
}

TEST_CASE("follower_startsElectionAfterElectionTimeout", "[raft][election]") {
  Network net({"a", "b", "c"}, 1, no_pre_vote());
  const Term before = net.core("a").term();
  Actions a = net.step("a", Tick{});  // not yet due: nothing
  CHECK(net.core("a").role() == Role::follower);
  net.advance(Config::local().election_timeout_max);
  // Whoever timed out first is a candidate one term later and asked the others for votes.
  bool someone = false;
  for (const auto& id : net.ids()) {
    if (net.core(id).role() == Role::candidate) {
      someone = true;
      CHECK(net.core(id).term() == before + 1);
      CHECK(net.core(id).hard_state().vote == id);
    }
  }
  CHECK(someone);
  CHECK(of_type<RequestVote>(a.send_now).empty());
}

TEST_CASE("candidate_votesForItselfAndPersistsBeforeAsking", "[raft][election]") {
  Network net({"a", "b", "c"}, 2, no_pre_vote());
  Actions a = net.step("a", Campaign{});
  REQUIRE(a.persist.hard_state);
  CHECK(a.persist.hard_state->term == 1);
  CHECK(a.persist.hard_state->vote == "a");
  CHECK(a.must_sync);
  auto asks = of_type<RequestVote>(a.send_after_persist);
  CHECK(asks.size() == 2);
  CHECK(of_type<RequestVote>(a.send_now).empty());
}

TEST_CASE("candidate_winsWithMajorityOfVotes", "[raft][election]") {
  Network net({"a", "b", "c", "d", "e"}, 3, no_pre_vote());
  net.partition({"a", "b", "c"});  // a majority of 5
  net.elect("a");
  CHECK(net.core("a").term() == 1);
  CHECK(net.core("b").leader() == "a");
}

TEST_CASE("candidate_withoutMajority_doesNotWin", "[raft][election]") {
  Network net({"a", "b", "c", "d", "e"}, 4, no_pre_vote());
  net.partition({"a", "b"});
  net.step("a", Campaign{});
  net.deliver_all();
  CHECK(net.core("a").role() == Role::candidate);
}

TEST_CASE("voter_grantsAtMostOneVotePerTerm", "[raft][election]") {
  Network net({"a", "b", "c"}, 5, no_pre_vote());
  auto ask = [&](const NodeId& from) {
    RequestVote rv;
    rv.term = 1, rv.from = from, rv.to = "c", rv.last = {0, 1};
    Actions a = net.step("c", MessageIn{rv});
    auto r = of_type<RequestVoteResponse>(a.send_after_persist);
    REQUIRE(r.size() == 1);
    return r[0].granted;
  };
  CHECK(ask("a"));
  CHECK_FALSE(ask("b"));
  CHECK(ask("a"));  // a repeated request from the same candidate is granted again
  CHECK(net.core("c").hard_state().vote == "a");
}

TEST_CASE("voter_rejectsCandidateWithOlderLog", "[raft][election]") {
  Network net({"a", "b", "c"}, 6, no_pre_vote());
  net.elect("a");
  net.propose("a", "x");
  // c's log ends at (term 1, index 3); a candidate with (1, 2) or (0, 9) is behind.
  for (LogPosition last : {LogPosition{1, 2}, LogPosition{0, 9}}) {
    RequestVote rv;
    rv.term = 5, rv.from = "b", rv.to = "c", rv.last = last;
    net.member("c").core->check_invariants();
    Actions a = net.step("c", MessageIn{rv});
    auto r = of_type<RequestVoteResponse>(a.send_after_persist);
    REQUIRE(r.size() == 1);
    CHECK_FALSE(r[0].granted);
  }
}

TEST_CASE("candidate_stepsDownOnAppendFromLeaderOfSameTerm", "[raft][election]") {
  Network net({"a", "b", "c"}, 7, no_pre_vote());
  net.step("b", Campaign{});  // b: candidate in term 1, messages held
  net.queue().clear();
  AppendEntries ae;
  ae.term = 1, ae.from = "a", ae.to = "b", ae.prev = {0, 1};
  net.step("b", MessageIn{ae});
  CHECK(net.core("b").role() == Role::follower);
  CHECK(net.core("b").leader() == "a");
}

TEST_CASE("anyRole_adoptsHigherTermAndBecomesFollower", "[raft][election]") {
  Network net({"a", "b", "c"}, 8, no_pre_vote());
  net.elect("a");
  Heartbeat hb;
  hb.term = 9, hb.from = "b", hb.to = "a";
  net.step("a", MessageIn{hb});
  CHECK(net.core("a").role() == Role::follower);
  CHECK(net.core("a").term() == 9);
  CHECK(net.core("a").leader() == "b");
}

TEST_CASE("anyRole_answersStaleLeaderWithItsTerm", "[raft][election]") {
  Network net({"a", "b", "c"}, 9, no_pre_vote());
  net.elect("a");
  net.elect("b");  // term 2
  AppendEntries old;
  old.term = 1, old.from = "a", old.to = "c", old.prev = {0, 1};
  Actions a = net.step("c", MessageIn{old});
  auto r = of_type<AppendEntriesResponse>(a.send_after_persist);
  REQUIRE(r.size() == 1);
  CHECK(r[0].term == 2);
  CHECK(net.core("c").leader() == "b");
}

TEST_CASE("preVote_isolatedNodeDoesNotRaiseItsTerm", "[raft][election][prevote]") {
  Network net({"a", "b", "c"}, 10);
  net.elect("a");
  const Term t = net.core("a").term();
  net.isolate("c");
  net.run_for(Config::local().election_timeout_max * 20);
  CHECK(net.core("c").term() == t);
  CHECK(net.core("c").role() == Role::pre_candidate);
  net.heal();
  net.run_for(2s);
  CHECK(net.core("a").role() == Role::leader);  // not disrupted by c's return
  CHECK(net.core("a").term() == t);
}

TEST_CASE("preVote_grantedOnlyForNewerTermAndUpToDateLog", "[raft][election][prevote]") {
  Network net({"a", "b", "c"}, 11);
  RequestVote rv;
  rv.term = 1, rv.from = "a", rv.to = "b", rv.last = {0, 1}, rv.pre_vote = true;
  Actions a = net.step("b", MessageIn{rv});
  auto r = of_type<RequestVoteResponse>(a.send_now);
  REQUIRE(r.size() == 1);
  CHECK(r[0].granted);
  CHECK(r[0].term == 1);
  CHECK(net.core("b").term() == 0);  // a pre-vote changes nothing
  CHECK(net.core("b").hard_state().vote.empty());
}

TEST_CASE("checkQuorum_leaderCutOffFromMajorityStepsDown", "[raft][election][checkquorum]") {
  Network net({"a", "b", "c"}, 12);
  net.elect("a");
  net.isolate("a");
  net.run_for(Config::local().election_timeout_min * 3);
  CHECK(net.core("a").role() != Role::leader);
}

TEST_CASE("leaderStickiness_followersIgnoreVotesWhileLeaderAlive", "[raft][election][checkquorum]") {
  Network net({"a", "b", "c"}, 13);
  net.elect("a");
  RequestVote rv;
  rv.term = 7, rv.from = "c", rv.to = "b", rv.last = {99, 99};
  Actions a = net.step("b", MessageIn{rv});
  CHECK(a.send_after_persist.empty());
  CHECK(net.core("b").term() == 1);
  rv.transfer = true;  // unless the leader itself asked for the election
  a = net.step("b", MessageIn{rv});
  CHECK(net.core("b").term() == 7);
}

TEST_CASE("peerDown_followersOfACrashedLeaderElectWithinAHeartbeat", "[raft][election][peerdown]") {
  const Config cfg = Config::local();
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    INFO("seed " << seed);
    Network net({"a", "b", "c"}, 100 + seed);
    net.elect("a");
    net.run_for(cfg.heartbeat_interval);
    const Term term = net.core("b").term();
    net.crash("a");
    // Told at once (the shell's connection was refused): well before an election timeout.
    net.step("b", PeerDown{"a"});
    net.step("c", PeerDown{"a"});
    net.run_for(cfg.heartbeat_interval * 2);
    const NodeId leader = net.core("b").role() == Role::leader ? "b" : "c";
    REQUIRE(net.core(leader).role() == Role::leader);
    CHECK(net.core(leader).term() == term + 1);
  }
}

TEST_CASE("peerDown_withoutIt_followersWaitAnElectionTimeout", "[raft][election][peerdown]") {
  const Config cfg = Config::local();
  Network net({"a", "b", "c"}, 120);
  net.elect("a");
  net.run_for(cfg.heartbeat_interval);
  net.crash("a");
  net.run_for(cfg.heartbeat_interval * 2);
  CHECK(net.leader().empty());
}

TEST_CASE("peerDown_aWrongBeliefOfOneFollowerDoesNotDeposeALiveLeader",
          "[raft][election][peerdown]") {
  const Config cfg = Config::local();
  Network net({"a", "b", "c"}, 121);
  net.elect("a");
  const Term term = net.core("a").term();
  net.step("b", PeerDown{"a"});  // b is wrong, and c still hears from a: no pre-vote from c
  net.run_for(cfg.election_timeout_max * 3);
  CHECK(net.core("a").role() == Role::leader);
  CHECK(net.core("a").term() == term);
  CHECK(net.core("b").leader() == "a");
}

TEST_CASE("peerDown_ofAnotherNodeChangesNothing", "[raft][election][peerdown]") {
  Network net({"a", "b", "c"}, 122);
  net.elect("a");
  const Term term = net.core("a").term();
  net.step("b", PeerDown{"c"});
  net.step("a", PeerDown{"b"});  // a leader ignores it: check-quorum is its own detector
  net.run_for(Config::local().election_timeout_max * 2);
  CHECK(net.core("a").role() == Role::leader);
  CHECK(net.core("a").term() == term);
}

TEST_CASE("election_eventuallyElectsOneLeaderWithRandomTimeouts", "[raft][election]") {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Network net({"a", "b", "c", "d", "e"}, seed);
    net.latency_min = 1ms, net.latency_max = 5ms;
    net.run_for(3s);
    INFO("seed " << seed);
    REQUIRE(!net.leader().empty());
    for (const auto& id : net.ids()) CHECK(net.core(id).leader() == net.leader());
  }
}

TEST_CASE("restart_recoversTermVoteAndLog", "[raft][election][durability]") {
  Network net({"a", "b", "c"}, 14);
  net.elect("a");
  net.propose("a", "one");
  const HardState hs = net.core("b").hard_state();
  const Index last = net.core("b").last_index();
  net.crash("b");
  net.restart("b");
  CHECK(net.core("b").term() == hs.term);
  CHECK(net.core("b").hard_state().vote == hs.vote);
  CHECK(net.core("b").last_index() == last);
  CHECK(net.core("b").config().voters == std::vector<NodeId>{"a", "b", "c"});
}

}  // namespace
}  // namespace shoal::raft
