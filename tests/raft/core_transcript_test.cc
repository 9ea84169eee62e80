// Transcript tests: the exact messages of a few short scenarios, one per line. A change in
// behaviour shows up in review as a diff of these lines; update them when it is intended.
#include <catch2/catch.hpp>

#include "tests/raft/test_network.h"

namespace shoal::raft {
namespace {

using test::Network;

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST_CASE("transcript_electionWithPreVoteAndFirstCommit", "[raft][transcript]") {
  Network net({"a", "b", "c"}, 1);
  std::vector<std::string> lines;
  net.transcript = &lines;
  net.elect("a");
  CHECK(join(lines) ==
        "a->b RequestVote t1 last=0/1 pre\n"
        "a->c RequestVote t1 last=0/1 pre\n"
        "b->a RequestVoteResponse t1 granted pre\n"
        "c->a RequestVoteResponse t1 granted pre\n"
        "a->b RequestVote t1 last=0/1\n"
        "a->c RequestVote t1 last=0/1\n"
        "b->a RequestVoteResponse t1 granted\n"
        "c->a RequestVoteResponse t1 granted\n"
        "a->b AppendEntries t1 prev=0/1 entries=[1/2] commit=1\n"
        "a->c AppendEntries t1 prev=0/1 entries=[1/2] commit=1\n"
        "b->a AppendEntriesResponse t1 ok match=2\n"
        "c->a AppendEntriesResponse t1 ok match=2\n");
}

TEST_CASE("transcript_divergentFollowerIsRepairedInOneRoundTrip", "[raft][transcript]") {
  // a wrote three entries of term 1 nobody else has; b, the leader of term 2, starts
  // probing right after its own log's old end, where a agrees, and overwrites a's suffix.
  Network net({"a", "b", "c"}, 2);
  net.elect("a");
  net.isolate("a");
  for (int i = 0; i < 3; ++i) net.step("a", Propose{to_bytes("stale")});
  net.heal();
  net.crash("a");
  net.expire_leases();
  net.elect("b");
  net.propose("b", "fresh");
  net.restart("a");
  std::vector<std::string> lines;
  net.transcript = &lines;
  net.filter = [](const Message& m) { return header(m).to == "a" || header(m).from == "a"; };
  net.advance(Config::local().heartbeat_interval);
  net.deliver_all();
  CHECK(join(lines) ==
        "b->a Heartbeat t2 commit=0 read=0\n"
        "a->b HeartbeatResponse t2 read=0 last=5\n"
        "b->a AppendEntries t2 prev=1/2 entries=[2/3 2/4] commit=4\n"
        "a->b AppendEntriesResponse t2 ok match=4\n");
}

}  // namespace
}  // namespace shoal::raft
