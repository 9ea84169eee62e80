// The pieces the simulator puts around raft::Core: the log store on a node's DurableStore
// (a crash keeps exactly what was synced) and the key-value machine (duplicates skipped,
// snapshots round-trip).
#include <catch2/catch.hpp>

#include "simulations/raft/durable_log_store.h"
#include "simulations/raft/kv_machine.h"

using namespace shoal;
using namespace shoal::sim;

namespace {

raft::Entry entry(raft::Index i, raft::Term t, std::string data = "x") {
  return {t, i, raft::EntryType::normal, to_bytes(data)};
}

std::unique_ptr<DurableLogStore> open(DurableStore& disk) {
  auto s = DurableLogStore::open(disk);
  REQUIRE(s.ok());
  return std::move(*s);
}

}  // namespace

TEST_CASE("a crash keeps what the log store synced and nothing else", "[sim][raft]") {
  DurableStore disk;
  auto store = open(disk);
  REQUIRE(raft::bootstrap(*store, {"n0", "n1", "n2"}).ok());
  REQUIRE(store->append({entry(2, 1), entry(3, 1)}, /*sync=*/true).ok());
  REQUIRE(store->append({entry(4, 1)}, /*sync=*/false).ok());
  REQUIRE(store->save_hard_state({2, "n1", 3}, false).ok());
  CHECK(store->last_index() == 4);
  disk.crash();
  store = open(disk);
  CHECK(store->first_index() == 2);
  CHECK(store->last_index() == 3);
  CHECK(store->hard_state()->term == 0);
  CHECK(store->snapshot_meta()->config.voters.size() == 3);
  auto got = store->entries(2, 4, SIZE_MAX);
  REQUIRE(got.ok());
  CHECK(*got == std::vector<raft::Entry>{entry(2, 1), entry(3, 1)});
}

TEST_CASE("the log store truncates, compacts and refuses gaps like the others", "[sim][raft]") {
  DurableStore disk;
  auto store = open(disk);
  REQUIRE(store->append({entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)}, true).ok());
  REQUIRE(store->truncate_suffix(3, true).ok());
  CHECK(store->last_index() == 2);
  CHECK(store->append({entry(5, 2)}).code() == Status::Code::invalid_argument);
  REQUIRE(store->append({entry(3, 3), entry(4, 3)}, true).ok());
  REQUIRE(store->save_snapshot({2, 1, {{"n0"}, {}}}, to_bytes("snap"), true).ok());
  CHECK(store->first_index() == 3);
  CHECK(*store->term_at(2) == 1);
  CHECK(store->term_at(1).status().code() == Status::Code::not_found);
  disk.crash();
  store = open(disk);
  CHECK(store->first_index() == 3);
  CHECK(store->last_index() == 4);
  CHECK(*store->term_at(4) == 3);
  CHECK(*store->snapshot_data() == to_bytes("snap"));
  // A snapshot past the log's end empties it.
  REQUIRE(store->save_snapshot({9, 4, {{"n0"}, {}}}, {}, true).ok());
  CHECK(store->last_index() == 9);
  CHECK(store->first_index() == 10);
}

TEST_CASE("the kv machine applies a client's command once and snapshots whole", "[sim][raft]") {
  KvMachine m;
  REQUIRE(m.restore({}, 1).ok());
  auto cmd = [](uint64_t client, uint64_t seq, std::string k, std::string v) {
    return encode_kv_command({client, seq, std::move(k), std::move(v)});
  };
  REQUIRE(m.apply({1, 2, raft::EntryType::normal, cmd(1, 1, "a", "x")}).ok());
  REQUIRE(m.apply({1, 3, raft::EntryType::noop, {}}).ok());
  REQUIRE(m.apply({1, 4, raft::EntryType::normal, cmd(1, 2, "a", "y")}).ok());
  REQUIRE(m.apply({1, 5, raft::EntryType::normal, cmd(1, 1, "a", "x")}).ok());  // a duplicate
  CHECK(m.get("a") == "y");
  CHECK(m.applied(1, 2));
  CHECK_FALSE(m.applied(2, 1));
  CHECK(m.apply({1, 7, raft::EntryType::normal, cmd(1, 3, "a", "z")}).code() ==
        Status::Code::failed_precondition);  // a gap

  KvMachine copy;
  REQUIRE(copy.restore(m.snapshot(), 5).ok());
  CHECK(copy.get("a") == "y");
  CHECK(copy.applied(1, 2));
  CHECK(copy.index() == 5);
  CHECK(copy.restore(m.snapshot(), 6).code() == Status::Code::corruption);
  CHECK(decode_kv_command(to_bytes("short")).status().code() == Status::Code::corruption);
}
