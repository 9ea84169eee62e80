// Log replication and commitment (§5.3, §5.4.2), flow control, and the persist-before-send
// ordering of Actions.
#include <catch2/catch.hpp>

#include "tests/raft/test_network.h"

namespace shoal::raft {
namespace {

using test::Network;
using test::of_type;

TEST_CASE("leader_appendsNoopOnElectionAndCommitsIt", "[raft][replication]") {
  Network net({"a", "b", "c"}, 1);
  net.elect("a");
  CHECK(net.core("a").last_index() == 2);  // 1 is the bootstrap snapshot
  CHECK(net.core("a").commit_index() == 2);
  net.advance(Config::local().heartbeat_interval);  // followers learn the commit index
  net.deliver_all();
  CHECK(net.core("b").commit_index() == 2);
}

TEST_CASE("leader_commitsOnceAMajorityPersisted", "[raft][replication]") {
  Network net({"a", "b", "c"}, 2);
  net.elect("a");
  net.isolate("c");
  const LogPosition p = net.propose("a", "x");
  CHECK(net.core("a").commit_index() == p.index);
  CHECK(net.member("a").machine.values.back() == to_bytes("x"));
  net.isolate("a");  // now a and b cannot reach a quorum ...
  net.heal();
  net.partition({"a"});
  Actions r = net.step("a", Propose{to_bytes("y")});
  net.deliver_all();
  CHECK(net.core("a").commit_index() == p.index);  // ... so y is not committed
}

TEST_CASE("leader_countsItsOwnEntryOnlyOncePersisted", "[raft][replication][ordering]") {
  Network net({"a"}, 3);
  net.elect("a");
  // Drive the core by hand: without Persisted, a single voter cannot commit.
  Core& core = net.core("a");
  Actions a = core.step(Propose{to_bytes("x")}, net.now());
  CHECK(a.persist.entries.size() == 1);
  CHECK(core.commit_index() < a.proposed->index);
  REQUIRE(net.member("a").store->write(a.persist, true).ok());
  const LogPosition at = *a.proposed;
  a = core.step(Persisted{at}, net.now());
  CHECK(core.commit_index() == at.index);
  REQUIRE(a.apply.size() == 1);
  CHECK(a.apply[0].index == at.index);
}

TEST_CASE("follower_acknowledgesOnlyAfterPersisting", "[raft][replication][ordering]") {
  Network net({"a", "b", "c"}, 4);
  net.elect("a");
  AppendEntries ae;
  ae.term = 1, ae.from = "a", ae.to = "b", ae.prev = {1, 2};
  ae.entries = {Entry{1, 3, EntryType::normal, to_bytes("x")}};
  Actions a = net.step("b", MessageIn{ae});
  CHECK(a.persist.entries == ae.entries);
  CHECK(a.must_sync);
  CHECK(of_type<AppendEntriesResponse>(a.send_now).empty());
  auto acks = of_type<AppendEntriesResponse>(a.send_after_persist);
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].success);
  CHECK(acks[0].match == 3);
}

TEST_CASE("follower_rejectsAppendWhosePrevDoesNotMatch_withHint", "[raft][replication]") {
  Network net({"a", "b", "c"}, 5);
  net.elect("a");
  AppendEntries ae;
  ae.term = 1, ae.from = "a", ae.to = "b", ae.prev = {1, 9};  // b's log ends at 2
  Actions a = net.step("b", MessageIn{ae});
  auto r = of_type<AppendEntriesResponse>(a.send_after_persist);
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0].success);
  CHECK(r[0].rejected == 9);
  CHECK(r[0].hint_index == 2);
  CHECK(r[0].hint_term == 1);
}

TEST_CASE("follower_truncatesConflictingSuffixAndTakesLeadersEntries", "[raft][replication]") {
  // a leads term 1 and writes entries only b gets; c then leads term 2 (with d and e) and
  // its entries replace them on b.
  Network net({"a", "b", "c", "d", "e"}, 6);
  net.elect("a");
  net.partition({"a", "b"});
  for (int i = 0; i < 3; ++i) net.step("a", Propose{to_bytes("lost")});
  net.deliver_all();
  REQUIRE(net.core("b").last_index() == 5);
  REQUIRE(net.core("a").commit_index() == 2);
  net.heal();
  net.crash("a");
  net.expire_leases();
  net.partition({"b"});
  net.elect("c");
  net.propose("c", "kept");
  net.heal();
  net.restart("a");
  net.run_for(1s);
  net.check_log_matching();
  CHECK(net.core("b").last_index() == net.core("c").last_index());
  CHECK(net.core("b").log().term_at(3) == net.core("c").term());
  CHECK(net.core("a").log().term_at(3) == net.core("c").term());
}

TEST_CASE("leader_backtracksFastOverALongDivergentSuffix", "[raft][replication]") {
  Network net({"a", "b", "c"}, 7);
  net.elect("a");
  net.isolate("a");
  for (int i = 0; i < 100; ++i) net.step("a", Propose{to_bytes("old")});
  net.deliver_all();
  net.heal();
  net.crash("a");
  net.expire_leases();
  net.elect("b");
  for (int i = 0; i < 5; ++i) net.propose("b", "new");
  net.restart("a");
  size_t rejections = 0;
  net.filter = [&](const Message& m) {
    if (const auto* r = std::get_if<AppendEntriesResponse>(&m); r && !r->success) ++rejections;
    return true;
  };
  net.run_for(1s);
  CHECK(net.core("a").last_index() == net.core("b").last_index());
  CHECK(rejections <= 3);  // the hint skips the whole term, not one entry per round trip
  net.check_log_matching();
}

TEST_CASE("leader_pipelinesAppendsUpToTheInflightLimit", "[raft][replication][flow]") {
  Config cfg = Config::local();
  cfg.max_inflight_appends = 4;
  Network net({"a", "b", "c"}, 8, cfg);
  net.elect("a");
  net.filter = [](const Message& m) { return header(m).to == "a" ? false : true; };
  size_t appends_to_b = 0;
  for (int i = 0; i < 10; ++i) {
    Actions a = net.step("a", Propose{to_bytes("x")});
    for (const auto& ae : of_type<AppendEntries>(a.send_now)) appends_to_b += ae.to == "b";
  }
  CHECK(appends_to_b == 4);
  CHECK(net.core("a").peer("b")->state == ProgressState::replicate);
}

TEST_CASE("leader_batchesEntriesUpToTheAppendLimits", "[raft][replication][flow]") {
  Config cfg = Config::local();
  cfg.max_append_entries = 3;
  Network net({"a", "b"}, 9, cfg);
  net.elect("a");
  net.isolate("b");
  for (int i = 0; i < 10; ++i) net.step("a", Propose{to_bytes("x")});
  net.heal();
  size_t biggest = 0;
  net.filter = [&](const Message& m) {
    if (const auto* ae = std::get_if<AppendEntries>(&m)) biggest = std::max(biggest, ae->entries.size());
    return true;
  };
  net.run_for(1s);
  CHECK(biggest == 3);
  CHECK(net.core("b").last_index() == net.core("a").last_index());
}

TEST_CASE("leader_retransmitsAppendsLostInFlight", "[raft][replication][flow]") {
  Network net({"a", "b", "c"}, 10);
  net.elect("a");
  net.drop_rate = 1.0;
  for (int i = 0; i < 5; ++i) net.step("a", Propose{to_bytes("x")});
  net.drop_rate = 0;
  net.run_for(Config::local().replication_timeout * 3);
  CHECK(net.core("b").last_index() == net.core("a").last_index());
  CHECK(net.core("a").commit_index() == net.core("a").last_index());
}

TEST_CASE("leader_neverCommitsPriorTermEntryByCounting", "[raft][replication]") {
  // Figure 8: a's term-1 entry reaches only b; c wins term 2 but its entries reach nobody;
  // a wins term 3 and replicates the old entry. It commits only together with an entry of
  // term 3 (the no-op), never by counting replicas of the term-1 entry alone.
  Network net({"a", "b", "c", "d", "e"}, 11);
  net.elect("a");
  net.partition({"a", "b"});
  net.step("a", Propose{to_bytes("old")});
  net.deliver_all();
  const Index old = net.core("a").last_index();
  CHECK(net.core("a").commit_index() < old);
  net.heal();
  net.crash("a");
  net.crash("b");
  net.expire_leases();
  net.filter = [](const Message& m) { return !std::holds_alternative<AppendEntries>(m); };
  net.elect("c");  // term 2, with c, d, e; its no-op stays on c
  net.filter = nullptr;
  net.crash("c");
  net.restart("a");
  net.restart("b");
  net.expire_leases();
  // Let through only appends that carry nothing newer than the old entry.
  bool committed_early = false;
  net.filter = [&](const Message& m) {
    if (const auto* ae = std::get_if<AppendEntries>(&m)) {
      return ae->entries.empty() || ae->entries.back().index <= old;
    }
    return true;
  };
  for (int i = 0; i < 3 && net.core("a").role() != Role::leader; ++i) {
    net.step("a", Campaign{});  // the first try only learns term 2 from the pre-vote answers
    net.deliver_all();
  }
  REQUIRE(net.core("a").role() == Role::leader);
  committed_early = net.core("a").commit_index() >= old;
  CHECK_FALSE(committed_early);
  net.filter = nullptr;
  net.run_for(1s);
  CHECK(net.core("a").commit_index() > old);
  net.check_log_matching();
}

TEST_CASE("follower_neverTruncatesCommittedEntries", "[raft][replication]") {
  Network net({"a", "b", "c"}, 12);
  net.elect("a");
  net.propose("a", "x");
  net.advance(Config::local().heartbeat_interval);
  net.deliver_all();
  const Index commit = net.core("b").commit_index();
  AppendEntries bad;
  bad.term = 1, bad.from = "a", bad.to = "b", bad.prev = {1, 2};
  bad.entries = {Entry{1, 3, EntryType::normal, to_bytes("other")}};
  bad.term = 5;  // even from a later leader claiming so
  bad.entries[0].term = 5;
  net.step("b", MessageIn{bad});
  CHECK(net.core("b").commit_index() == commit);
  CHECK(net.core("b").log().term_at(3) == 1);
}

}  // namespace
}  // namespace shoal::raft
