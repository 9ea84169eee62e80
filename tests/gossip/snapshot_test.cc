// The snapshot's records and replay rules (gossip/snapshot.h), without files.
#include "gossip/snapshot.h"

#include <catch2/catch.hpp>

namespace shoal::gossip {
namespace {

using T = SnapshotRecordType;

Bytes file_of(const std::vector<SnapshotRecord>& records) {
  Bytes out(kSnapshotMagic.begin(), kSnapshotMagic.end());
  for (const auto& r : records) {
    Bytes rec = encode_snapshot_record(r);
    out.insert(out.end(), rec.begin(), rec.end());
  }
  return out;
}

const std::vector<SnapshotRecord> kHistory = {
    {T::alive, "a", "127.0.0.1:7001", 0}, {T::alive, "b", "127.0.0.1:7002", 0},
    {T::clock, "", "", 7},                {T::alive, "c", "127.0.0.1:7003", 0},
    {T::not_alive, "b", "", 0},           {T::event_clock, "", "", 12},
    {T::query_clock, "", "", 3},          {T::clock, "", "", 9},
};

TEST_CASE("replay rebuilds peers and clocks from the records", "[gossip][snapshot]") {
  auto r = replay_snapshot(file_of(kHistory), false);
  REQUIRE(r.ok());
  CHECK(r->state.alive == std::map<std::string, std::string>{{"a", "127.0.0.1:7001"},
                                                             {"c", "127.0.0.1:7003"}});
  CHECK(r->state.clock == 9);
  CHECK(r->state.event_clock == 12);
  CHECK(r->state.query_clock == 3);
  CHECK_FALSE(r->state.left);
  CHECK_FALSE(r->torn_tail);
  CHECK(r->valid_bytes == file_of(kHistory).size());
}

TEST_CASE("an empty file is an empty snapshot", "[gossip][snapshot]") {
  auto r = replay_snapshot(Bytes{}, false);
  REQUIRE(r.ok());
  CHECK(r->state.alive.empty());
  CHECK(r->state.clock == 0);
}

TEST_CASE("compaction writes a file that replays to the same state", "[gossip][snapshot]") {
  auto r = replay_snapshot(file_of(kHistory), false);
  REQUIRE(r.ok());
  const Bytes compacted = r->state.compacted();
  CHECK(compacted.size() < file_of(kHistory).size());
  auto again = replay_snapshot(compacted, false);
  REQUIRE(again.ok());
  CHECK(again->state.alive == r->state.alive);
  CHECK(again->state.clock == r->state.clock);
  CHECK(again->state.event_clock == r->state.event_clock);
  CHECK(again->state.query_clock == r->state.query_clock);
}

TEST_CASE("a leave forgets the peers but keeps the clocks, rejoin_after_leave keeps both",
          "[gossip][snapshot]") {
  auto history = kHistory;
  history.push_back({T::leave, "", "", 0});
  auto r = replay_snapshot(file_of(history), false);
  REQUIRE(r.ok());
  CHECK(r->state.left);
  CHECK(r->state.alive.empty());
  CHECK(r->state.clock == 9);
  CHECK(r->state.event_clock == 12);
  auto keep = replay_snapshot(file_of(history), true);
  REQUIRE(keep.ok());
  CHECK(keep->state.left);
  CHECK(keep->state.alive.size() == 2);
  // The leave survives compaction.
  auto compacted = replay_snapshot(r->state.compacted(), false);
  REQUIRE(compacted.ok());
  CHECK(compacted->state.left);
}

TEST_CASE("joining again after a leave clears the left mark", "[gossip][snapshot]") {
  auto history = kHistory;
  history.push_back({T::leave, "", "", 0});
  history.push_back({T::alive, "d", "127.0.0.1:7004", 0});
  auto r = replay_snapshot(file_of(history), false);
  REQUIRE(r.ok());
  CHECK_FALSE(r->state.left);
  CHECK(r->state.alive.size() == 1);
}

TEST_CASE("an incomplete last record is a torn tail: the prefix is used", "[gossip][snapshot]") {
  const Bytes whole = file_of(kHistory);
  const size_t last = encode_snapshot_record(kHistory.back()).size();
  for (size_t cut = 1; cut < last; ++cut) {
    CAPTURE(cut);
    Bytes torn(whole.begin(), whole.end() - static_cast<std::ptrdiff_t>(cut));
    auto r = replay_snapshot(torn, false);
    REQUIRE(r.ok());
    CHECK(r->torn_tail);
    CHECK(r->valid_bytes == whole.size() - last);
    CHECK(r->state.clock == 7);  // the torn record (clock 9) is not applied
  }
}

TEST_CASE("any flipped byte is corruption, never used nor taken for a torn tail",
          "[gossip][snapshot]") {
  const Bytes whole = file_of(kHistory);
  for (size_t i = 0; i < whole.size(); ++i) {
    CAPTURE(i);
    Bytes bad = whole;
    bad[i] ^= 0x5a;
    auto r = replay_snapshot(bad, false);
    if (r.ok()) FAIL("corrupt byte accepted: torn_tail=" << r->torn_tail);
    CHECK(r.status().code() == Status::Code::corruption);
    if (i >= kSnapshotMagic.size()) {
      CHECK(r.status().message().find("offset") != std::string::npos);
    }
  }
}

TEST_CASE("a file that is not a snapshot is refused", "[gossip][snapshot]") {
  const std::string text = "alive: a 127.0.0.1:7001\n";  // serf's text format
  auto r = replay_snapshot(Bytes(text.begin(), text.end()), false);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("magic") != std::string::npos);
}

}  // namespace
}  // namespace shoal::gossip
