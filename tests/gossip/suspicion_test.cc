#include "gossip/suspicion.h"

#include <catch2/catch.hpp>

#include "gossip/broadcast_queue.h"
#include "gossip/messages.h"

namespace shoal::gossip {
namespace {

using namespace std::chrono_literals;

TEST_CASE("a suspicion without confirmations to wait for uses the minimum", "[lifeguard]") {
  Suspicion s("a", 0, 2s, 12s, TimePoint{} + 100s);
  CHECK(s.deadline() == TimePoint{} + 102s);
  CHECK_FALSE(s.confirm("b"));
}

TEST_CASE("confirmations shrink the timeout from max toward min", "[lifeguard]") {
  const TimePoint start = TimePoint{} + 10s;
  Suspicion s("a", 3, 2s, 12s, start);
  CHECK(s.deadline() == start + 12s);
  CHECK_FALSE(s.confirm("a"));  // the accuser does not confirm itself
  REQUIRE(s.confirm("b"));
  const TimePoint after_one = s.deadline();
  CHECK(after_one < start + 12s);
  CHECK(after_one > start + 2s);
  CHECK_FALSE(s.confirm("b"));  // repeats do not count
  REQUIRE(s.confirm("c"));
  CHECK(s.deadline() < after_one);
  REQUIRE(s.confirm("d"));
  CHECK(s.deadline() == start + 2s);
  CHECK_FALSE(s.confirm("e"));  // past k
}

TEST_CASE("retransmit limit grows with log10 of the cluster size", "[gossip]") {
  CHECK(retransmit_limit(4, 1) == 4);
  CHECK(retransmit_limit(4, 9) == 4);
  CHECK(retransmit_limit(4, 10) == 8);
  CHECK(retransmit_limit(4, 1000) == 16);
}

TEST_CASE("the broadcast queue sends fresh messages first and retires them", "[gossip]") {
  BroadcastQueue q;
  int finished = 0;
  q.push("a", Bytes(10, 1), [&] { ++finished; });
  q.push("b", Bytes(20, 2));
  auto first = q.take(2, 100, 2);
  REQUIRE(first.size() == 2);
  CHECK(first[0].size() == 20);  // larger first within the same transmit count
  q.push("c", Bytes(5, 3));
  auto second = q.take(2, 100, 2);
  REQUIRE(second.size() == 3);
  CHECK(second[0].size() == 5);  // never sent before: goes first
  CHECK(finished == 1);          // "a" reached its limit of 2
  CHECK(q.size() == 1);          // only "c" remains
}

TEST_CASE("a newer message about a node replaces the queued one", "[gossip]") {
  BroadcastQueue q;
  bool replaced = false;
  q.push("node-1", Bytes(3, 1), [&] { replaced = true; });
  q.push("node-1", Bytes(4, 2));
  CHECK(replaced);
  CHECK(q.size() == 1);
  auto out = q.take(0, 100, 5);
  REQUIRE(out.size() == 1);
  CHECK(out[0] == Bytes(4, 2));
}

TEST_CASE("take respects the count limit, so compounds stay readable by Go peers", "[gossip]") {
  BroadcastQueue q;
  for (int i = 0; i < 200; ++i) q.push("", Bytes(3, 1));
  auto out = q.take(2, 100000, 5, kMaxCompoundParts);
  CHECK(out.size() == kMaxCompoundParts);
}

TEST_CASE("take respects the byte limit", "[gossip]") {
  BroadcastQueue q;
  q.push("", Bytes(60, 1));
  q.push("", Bytes(60, 2));
  auto out = q.take(2, 100, 5);
  CHECK(out.size() == 1);
  CHECK(q.size() == 2);
}

}  // namespace
}  // namespace shoal::gossip
