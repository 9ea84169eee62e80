// Snapshots and compaction (§7), membership changes with learners (dissertation §4),
// leadership transfer (§3.10) and ReadIndex reads (§6.4).
#include <catch2/catch.hpp>

#include "tests/raft/test_network.h"

namespace shoal::raft {
namespace {

using test::Network;
using test::of_type;

void compact(Network& net, const NodeId& id) {
  auto& m = net.member(id);
  Actions a = net.step(id, SnapshotTaken{m.machine.index, m.machine.snapshot()});
  REQUIRE(a.status.ok());
}

// ---- snapshots ----

TEST_CASE("snapshot_compactsTheLogUpToTheAppliedIndex", "[raft][snapshot]") {
  Network net({"a", "b", "c"}, 1);
  net.elect("a");
  for (int i = 0; i < 5; ++i) net.propose("a", "x");
  const Index applied = net.member("a").machine.index;
  Actions a = net.step("a", SnapshotTaken{applied, net.member("a").machine.snapshot()});
  REQUIRE(a.status.ok());
  REQUIRE(a.persist.snapshot);
  CHECK(a.persist.snapshot->meta.index == applied);
  CHECK(a.persist.snapshot->meta.config.voters.size() == 3);
  CHECK(net.member("a").store->first_index() == applied + 1);
  CHECK(net.core("a").log().first_index() == applied + 1);
}

TEST_CASE("snapshot_refusedPastTheAppliedIndex", "[raft][snapshot]") {
  Network net({"a", "b", "c"}, 2);
  net.elect("a");
  Actions a = net.step("a", SnapshotTaken{net.core("a").last_index() + 5, {}});
  CHECK(a.status.is(Status::Code::failed_precondition));
  CHECK_FALSE(a.persist.snapshot);
}

TEST_CASE("snapshot_sentInChunksToAFollowerBehindTheFirstIndex", "[raft][snapshot]") {
  Config cfg = Config::local();
  cfg.snapshot_chunk_bytes = 5;  // the test machine's snapshot is 16 bytes: 4 chunks
  Network net({"a", "b", "c"}, 3, cfg);
  net.elect("a");
  net.isolate("c");
  for (int i = 0; i < 20; ++i) net.propose("a", "x");
  compact(net, "a");
  size_t chunks = 0;
  net.filter = [&](const Message& m) {
    chunks += std::holds_alternative<InstallSnapshot>(m);
    return true;
  };
  net.heal();
  net.run_for(1s);
  CHECK(chunks >= 4);
  CHECK(net.core("c").log().snapshot().index == net.core("a").log().snapshot().index);
  CHECK(net.core("c").last_index() == net.core("a").last_index());
  CHECK(net.member("c").machine.hash == net.member("a").machine.hash);
}

TEST_CASE("snapshot_followerResumesAfterLostChunks", "[raft][snapshot]") {
  Config cfg = Config::local();
  cfg.snapshot_chunk_bytes = 3;
  Network net({"a", "b", "c"}, 4, cfg);
  net.elect("a");
  net.isolate("c");
  for (int i = 0; i < 10; ++i) net.propose("a", "x");
  compact(net, "a");
  net.heal();
  net.drop_rate = 0.3;
  net.run_for(3s);
  net.drop_rate = 0;
  net.run_for(1s);
  CHECK(net.member("c").machine.hash == net.member("a").machine.hash);
  CHECK(net.core("c").commit_index() == net.core("a").commit_index());
}

TEST_CASE("snapshot_newMemberCatchesUpFromTheBootstrapSnapshot", "[raft][snapshot][membership]") {
  Network net({"a", "b", "c"}, 5);
  net.elect("a");
  net.propose("a", "x");
  net.add_empty("d");
  Actions a = net.step("a", ChangeMembership{{ConfigChangeType::add_learner, "d"}});
  REQUIRE(a.status.ok());
  net.run_for(1s);
  CHECK(net.core("d").config().is_learner("d"));
  CHECK(net.core("d").last_index() == net.core("a").last_index());
  CHECK(net.member("d").machine.values.back() == to_bytes("x"));
}

// ---- membership ----

TEST_CASE("learner_receivesTheLogButNeverVotesOrCounts", "[raft][membership]") {
  Network net({"a", "b", "c"}, 6);
  net.elect("a");
  net.add_empty("d");
  REQUIRE(net.step("a", ChangeMembership{{ConfigChangeType::add_learner, "d"}}).status.ok());
  net.run_for(500ms);
  net.isolate("d");
  net.run_for(Config::local().election_timeout_max * 5);
  CHECK(net.core("d").role() == Role::follower);  // learners never campaign
  net.heal();
  // With b and c cut off, a and d are not a quorum: nothing new commits.
  net.partition({"a", "d"});
  const Index commit = net.core("a").commit_index();
  net.step("a", Propose{to_bytes("y")});
  net.deliver_all();
  CHECK(net.core("a").commit_index() == commit);
}

TEST_CASE("learner_promotedOnceCaughtUpUsingItsMatchIndex", "[raft][membership]") {
  Network net({"a", "b", "c"}, 7);
  net.elect("a");
  for (int i = 0; i < 10; ++i) net.propose("a", "x");
  net.add_empty("d");
  REQUIRE(net.step("a", ChangeMembership{{ConfigChangeType::add_learner, "d"}}).status.ok());
  net.run_for(1s);
  auto p = net.core("a").peer("d");
  REQUIRE(p);
  CHECK_FALSE(p->voter);
  CHECK(p->match == net.core("a").last_index());
  REQUIRE(net.step("a", ChangeMembership{{ConfigChangeType::add_voter, "d"}}).status.ok());
  net.run_for(1s);
  CHECK(net.core("a").config().voters == std::vector<NodeId>{"a", "b", "c", "d"});
  CHECK(net.core("d").config().is_voter("d"));
}

TEST_CASE("membership_oneUncommittedChangeAtATime", "[raft][membership]") {
  Network net({"a", "b", "c"}, 8);
  net.elect("a");
  net.isolate("a");  // nothing commits
  REQUIRE(net.step("a", ChangeMembership{{ConfigChangeType::add_learner, "d"}}).status.ok());
  Actions a = net.step("a", ChangeMembership{{ConfigChangeType::add_learner, "e"}});
  CHECK(a.status.is(Status::Code::unavailable));
  CHECK(net.core("a").config().is_learner("d"));  // in force as soon as appended
}

TEST_CASE("membership_changeTakesEffectOnAppendAndRevertsOnTruncation", "[raft][membership]") {
  Network net({"a", "b", "c", "d", "e"}, 9);
  net.elect("a");
  net.partition({"a", "b"});
  REQUIRE(net.step("a", ChangeMembership{{ConfigChangeType::remove, "e"}}).status.ok());
  net.deliver_all();
  CHECK_FALSE(net.core("b").config().contains("e"));
  net.heal();
  net.crash("a");
  net.expire_leases();
  net.partition({"b"});
  net.elect("c");
  net.heal();
  net.propose("c", "x");
  net.run_for(500ms);
  CHECK(net.core("b").config().contains("e"));  // the uncommitted removal was overwritten
}

TEST_CASE("membership_removedLeaderStepsDownAfterCommit", "[raft][membership]") {
  Network net({"a", "b", "c"}, 10);
  net.elect("a");
  REQUIRE(net.step("a", ChangeMembership{{ConfigChangeType::remove, "a"}}).status.ok());
  net.deliver_all();
  CHECK(net.core("a").role() == Role::follower);
  net.run_for(2s);
  const NodeId l = net.leader();
  CHECK((l == "b" || l == "c"));
  CHECK(net.core(l).config().voters == std::vector<NodeId>{"b", "c"});
}

TEST_CASE("membership_rejectsChangesThatMakeNoSense", "[raft][membership]") {
  Network net({"a"}, 11);
  net.elect("a");
  CHECK(net.step("a", ChangeMembership{{ConfigChangeType::remove, "a"}})
            .status.is(Status::Code::invalid_argument));
  CHECK(net.step("a", ChangeMembership{{ConfigChangeType::remove, "z"}})
            .status.is(Status::Code::not_found));
  CHECK(net.step("a", ChangeMembership{{ConfigChangeType::add_voter, "a"}})
            .status.is(Status::Code::already_exists));
  CHECK(net.step("a", ChangeMembership{{ConfigChangeType::add_learner, ""}})
            .status.is(Status::Code::invalid_argument));
}

// ---- leadership transfer ----

TEST_CASE("transfer_upToDateTargetGetsTimeoutNowAndWins", "[raft][transfer]") {
  Network net({"a", "b", "c"}, 12);
  net.elect("a");
  net.propose("a", "x");
  Actions a = net.step("a", TransferLeadership{"c"});
  REQUIRE(a.status.ok());
  CHECK(of_type<TimeoutNow>(a.send_now).size() == 1);
  net.deliver_all();
  CHECK(net.core("c").role() == Role::leader);
  CHECK(net.core("a").leader() == "c");
}

TEST_CASE("transfer_laggingTargetIsCaughtUpFirst", "[raft][transfer]") {
  Network net({"a", "b", "c"}, 13);
  net.elect("a");
  net.isolate("c");
  for (int i = 0; i < 5; ++i) net.propose("a", "x");
  net.heal();
  Actions a = net.step("a", TransferLeadership{"c"});
  CHECK(of_type<TimeoutNow>(a.send_now).empty());
  CHECK(net.step("a", Propose{to_bytes("y")}).status.is(Status::Code::unavailable));
  net.deliver_all();
  CHECK(net.core("c").role() == Role::leader);
}

TEST_CASE("transfer_abandonedAfterAnElectionTimeout", "[raft][transfer]") {
  Network net({"a", "b", "c"}, 14);
  net.elect("a");
  net.isolate("c");
  net.step("a", TransferLeadership{"c"});
  net.run_for(Config::local().election_timeout_min * 2);
  net.heal();
  CHECK(net.core("a").role() == Role::leader);
  CHECK(net.step("a", Propose{to_bytes("y")}).status.ok());
}

// ---- ReadIndex ----

TEST_CASE("readIndex_readyAfterAQuorumConfirmsLeadership", "[raft][read]") {
  Network net({"a", "b", "c"}, 15);
  net.elect("a");
  const LogPosition p = net.propose("a", "x");
  Actions a = net.step("a", ReadIndex{42});
  CHECK(a.reads_ready.empty());  // needs a heartbeat round first
  net.deliver_all();
  REQUIRE(net.member("a").reads.size() == 1);
  CHECK(net.member("a").reads[0].id == 42);
  CHECK(net.member("a").reads[0].index >= p.index);
}

TEST_CASE("readIndex_notConfirmedByAPartitionedLeader", "[raft][read]") {
  Network net({"a", "b", "c"}, 16);
  net.elect("a");
  net.isolate("a");
  net.step("a", ReadIndex{7});
  net.run_for(Config::local().election_timeout_min * 3);  // check-quorum deposes a
  CHECK(net.member("a").reads.empty());
  REQUIRE(net.member("a").read_failures.size() == 1);
  CHECK(net.member("a").read_failures[0].status.is(Status::Code::unavailable));
}

TEST_CASE("readIndex_refusedByAFollower", "[raft][read]") {
  Network net({"a", "b", "c"}, 17);
  net.elect("a");
  Actions a = net.step("b", ReadIndex{1});
  REQUIRE(a.reads_failed.size() == 1);
  CHECK(a.reads_failed[0].status.message().find("leader: 'a'") != std::string::npos);
}

TEST_CASE("readIndex_waitsForTheLeadersFirstCommit", "[raft][read]") {
  Network net({"a", "b", "c"}, 18);
  // Hold back appends so the no-op cannot commit; heartbeats still flow.
  net.filter = [](const Message& m) { return !std::holds_alternative<AppendEntries>(m); };
  net.step("a", Campaign{});
  net.deliver_all();
  REQUIRE(net.core("a").role() == Role::leader);
  net.step("a", ReadIndex{3});
  net.deliver_all();
  CHECK(net.member("a").reads.empty());
  net.filter = nullptr;
  net.run_for(500ms);
  REQUIRE(net.member("a").reads.size() == 1);
  CHECK(net.member("a").reads[0].index >= 2);
}

}  // namespace
}  // namespace shoal::raft
