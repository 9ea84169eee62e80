// LogStore contract, run against both stores; then the LevelDB store's own promises:
// reopening recovers everything, many groups share one database, and damaged records are
// reported as corruption, never returned.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>

#include <memory>

#include "raft/codec.h"
#include "raft/core.h"
#include "raft/leveldb_log_store.h"
#include "raft/memory_log_store.h"
#include "tests/raft/fault_env.h"

namespace shoal::raft {
namespace {

Entry entry(Term term, Index index, std::string_view data = "d") {
  return Entry{term, index, EntryType::normal, to_bytes(data)};
}

std::vector<Entry> run(Term term, Index from, Index to) {
  std::vector<Entry> out;
  for (Index i = from; i <= to; ++i) out.push_back(entry(term, i, fmt::format("v{}", i)));
  return out;
}

// A memenv database that outlives the stores opened on it, and can be closed and reopened.
struct MemDb {
  std::unique_ptr<leveldb::Env> env{leveldb::NewMemEnv(leveldb::Env::Default())};
  std::shared_ptr<LevelDb> db;

  MemDb() { reopen(); }
  void reopen() {
    db.reset();  // close first: LevelDB locks the directory
    auto r = LevelDb::open({.path = "/raft", .env = env.get()});
    REQUIRE(r.ok());
    db = *r;
  }
  std::unique_ptr<LevelDbLogStore> store(GroupId g) {
    auto r = LevelDbLogStore::open(db, g);
    REQUIRE(r.ok());
    return std::move(*r);
  }
};

void check_contract(LogStore& s) {
  SECTION("an empty store") {
    CHECK(s.first_index() == 1);
    CHECK(s.last_index() == 0);
    CHECK(*s.term_at(0) == 0);
    CHECK(s.term_at(1).status().is(Status::Code::not_found));
    CHECK(*s.hard_state() == HardState{});
  }
  SECTION("append, read ranges, and the byte limit") {
    REQUIRE(s.append(run(1, 1, 5), true).ok());
    CHECK(s.last_index() == 5);
    CHECK(*s.term_at(3) == 1);
    auto all = s.entries(2, 5, SIZE_MAX);
    REQUIRE(all.ok());
    CHECK(*all == run(1, 2, 4));
    auto limited = s.entries(1, 6, 3);  // each entry holds 2 bytes
    REQUIRE(limited.ok());
    CHECK(limited->size() == 1);
    auto one = s.entries(1, 6, 0);  // never fewer than one
    CHECK(one->size() == 1);
    CHECK(s.entries(0, 3, SIZE_MAX).status().is(Status::Code::not_found));
    CHECK(s.entries(4, 7, SIZE_MAX).status().is(Status::Code::not_found));
  }
  SECTION("an append that leaves a gap is refused and changes nothing") {
    REQUIRE(s.append(run(1, 1, 2)).ok());
    CHECK(s.append(run(1, 4, 4)).is(Status::Code::invalid_argument));
    CHECK(s.last_index() == 2);
  }
  SECTION("truncate suffix, then append over it") {
    REQUIRE(s.append(run(1, 1, 5)).ok());
    LogWrite w;
    w.truncate_from = 3;
    w.entries = run(2, 3, 4);
    w.hard_state = HardState{2, "n2", 2};
    REQUIRE(s.write(w, true).ok());
    CHECK(s.last_index() == 4);
    CHECK(*s.term_at(2) == 1);
    CHECK(*s.term_at(3) == 2);
    CHECK(s.hard_state()->vote == "n2");
  }
  SECTION("a snapshot compacts the prefix and keeps the rest") {
    REQUIRE(s.append(run(1, 1, 10)).ok());
    SnapshotMeta meta{6, 1, {{"a", "b"}, {"c"}}};
    REQUIRE(s.save_snapshot(meta, to_bytes("state"), true).ok());
    CHECK(s.first_index() == 7);
    CHECK(s.last_index() == 10);
    CHECK(*s.term_at(6) == 1);
    CHECK(s.term_at(5).status().is(Status::Code::not_found));
    CHECK(*s.snapshot_meta() == meta);
    CHECK(*s.snapshot_data() == to_bytes("state"));
    CHECK(*s.entries(7, 11, SIZE_MAX) == run(1, 7, 10));
  }
  SECTION("a snapshot past the log's end empties it") {
    REQUIRE(s.append(run(1, 1, 3)).ok());
    REQUIRE(s.save_snapshot({9, 4, {}}, {}, true).ok());
    CHECK(s.first_index() == 10);
    CHECK(s.last_index() == 9);
    REQUIRE(s.append(run(4, 10, 10)).ok());
    CHECK(*s.term_at(10) == 4);
  }
  SECTION("truncation into the snapshot is refused") {
    REQUIRE(s.append(run(1, 1, 5)).ok());
    REQUIRE(s.save_snapshot({3, 1, {}}, {}).ok());
    CHECK(s.truncate_suffix(3).is(Status::Code::invalid_argument));
    CHECK(s.truncate_suffix(4).ok());
    CHECK(s.last_index() == 3);
  }
}

TEST_CASE("memoryLogStore_meetsTheLogStoreContract", "[raft][store]") {
  MemoryLogStore s;
  check_contract(s);
}

TEST_CASE("levelDbLogStore_meetsTheLogStoreContract", "[raft][store][leveldb]") {
  MemDb mem;
  auto s = mem.store(7);
  check_contract(*s);
}

TEST_CASE("memoryLogStore_crashLosesOnlyUnsyncedWrites", "[raft][store]") {
  MemoryLogStore s;
  s.set_lose_unsynced(true);
  REQUIRE(s.append(run(1, 1, 2), true).ok());
  REQUIRE(s.append(run(1, 3, 4), false).ok());
  s.crash();
  CHECK(s.last_index() == 2);
}

TEST_CASE("levelDbLogStore_reopenRecoversEverything", "[raft][store][leveldb]") {
  MemDb mem;
  {
    auto s = mem.store(1);
    REQUIRE(s->append(run(1, 1, 20), true).ok());
    REQUIRE(s->save_snapshot({5, 1, {{"a"}, {}}}, to_bytes("snap"), true).ok());
    REQUIRE(s->truncate_suffix(15, true).ok());
    REQUIRE(s->save_hard_state({3, "a", 12}, true).ok());
  }
  mem.reopen();
  auto s = mem.store(1);
  CHECK(s->first_index() == 6);
  CHECK(s->last_index() == 14);
  CHECK(*s->hard_state() == HardState{3, "a", 12});
  CHECK(s->snapshot_meta()->config.voters == std::vector<NodeId>{"a"});
  CHECK(*s->snapshot_data() == to_bytes("snap"));
  CHECK(*s->entries(6, 15, SIZE_MAX) == run(1, 6, 14));
}

TEST_CASE("levelDbLogStore_powerLossKeepsSyncedWritesAndDropsTheRest", "[raft][store][leveldb]") {
  std::unique_ptr<leveldb::Env> mem(leveldb::NewMemEnv(leveldb::Env::Default()));
  test::FaultEnv env(mem.get());
  auto open_store = [&](std::shared_ptr<LevelDb>& db) {
    auto d = LevelDb::open({.path = "/p", .env = &env});
    REQUIRE(d.ok());
    db = *d;
    auto s = LevelDbLogStore::open(db, 1);
    REQUIRE(s.ok());
    return std::move(*s);
  };
  std::shared_ptr<LevelDb> db;
  {
    auto s = open_store(db);
    REQUIRE(s->append(run(1, 1, 3), /*sync=*/true).ok());
    REQUIRE(s->append(run(1, 4, 6), /*sync=*/false).ok());
    REQUIRE(s->save_hard_state({1, "a", 3}, /*sync=*/false).ok());
  }
  db.reset();
  env.drop_unsynced("/p/");
  {
    auto s = open_store(db);
    CHECK(s->last_index() == 3);
    CHECK(*s->hard_state() == HardState{});
    REQUIRE(s->append(run(1, 4, 5), false).ok());
    REQUIRE(db->sync().ok());  // an explicit sync covers the earlier unsynced write
  }
  db.reset();
  env.drop_unsynced("/p/");
  auto s = open_store(db);
  CHECK(s->last_index() == 5);
}

TEST_CASE("levelDbLogStore_groupsShareADatabaseWithoutSeeingEachOther", "[raft][store][leveldb]") {
  MemDb mem;
  auto a = mem.store(1);
  auto b = mem.store(2);
  REQUIRE(a->append(run(1, 1, 3)).ok());
  REQUIRE(b->append(run(7, 1, 9)).ok());
  REQUIRE(mem.db->sync().ok());  // one sync covers both
  CHECK(a->last_index() == 3);
  CHECK(*b->term_at(2) == 7);
  b.reset();
  REQUIRE(LevelDbLogStore::destroy(*mem.db, 2).ok());
  CHECK(mem.store(2)->last_index() == 0);
  CHECK(mem.store(1)->last_index() == 3);
}

void flip_byte(MemDb& mem, const std::string& key, size_t at) {
  std::string value;
  REQUIRE(mem.db->raw()->Get({}, key, &value).ok());
  value[at % value.size()] ^= 0x40;
  REQUIRE(mem.db->raw()->Put({}, key, value).ok());
}

TEST_CASE("levelDbLogStore_flippedByteInAnEntryIsCorruption", "[raft][store][leveldb]") {
  MemDb mem;
  auto s = mem.store(3);
  REQUIRE(s->append(run(1, 1, 5), true).ok());
  for (size_t at : {0, 5, 20}) {  // checksum, header, data
    MemDb fresh;
    auto t = fresh.store(3);
    REQUIRE(t->append(run(1, 1, 5), true).ok());
    flip_byte(fresh, LevelDbLogStore::entry_key(3, 4), at);
    // Reads through the open store see it ...
    CHECK(t->entries(1, 6, SIZE_MAX).status().is(Status::Code::corruption));
    CHECK(t->term_at(4).status().is(Status::Code::corruption));
    t.reset();
    // ... and so does opening the store again.
    auto reopened = LevelDbLogStore::open(fresh.db, 3);
    REQUIRE_FALSE(reopened.ok());
    CHECK(reopened.status().is(Status::Code::corruption));
    CHECK(reopened.status().message().find("entry 4") != std::string::npos);
  }
}

TEST_CASE("levelDbLogStore_flippedByteInHardStateOrSnapshotIsCorruption", "[raft][store][leveldb]") {
  for (auto key_of : {&LevelDbLogStore::hard_state_key, &LevelDbLogStore::snapshot_meta_key}) {
    MemDb mem;
    {
      auto s = mem.store(4);
      REQUIRE(s->save_hard_state({2, "x", 0}, true).ok());
      REQUIRE(s->save_snapshot({1, 0, {{"x"}, {}}}, {}, true).ok());
    }
    flip_byte(mem, key_of(4), 6);
    auto r = LevelDbLogStore::open(mem.db, 4);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().is(Status::Code::corruption));
  }
  MemDb mem;
  auto s = mem.store(4);
  REQUIRE(s->save_snapshot({1, 0, {}}, to_bytes("state machine"), true).ok());
  flip_byte(mem, LevelDbLogStore::snapshot_data_key(4), 9);
  CHECK(s->snapshot_data().status().is(Status::Code::corruption));
}

TEST_CASE("levelDbLogStore_truncatedValueOrMissingEntryIsCorruption", "[raft][store][leveldb]") {
  MemDb mem;
  {
    auto s = mem.store(5);
    REQUIRE(s->append(run(1, 1, 5), true).ok());
  }
  SECTION("a value cut short") {
    std::string value;
    const auto key = LevelDbLogStore::entry_key(5, 5);
    REQUIRE(mem.db->raw()->Get({}, key, &value).ok());
    REQUIRE(mem.db->raw()->Put({}, key, value.substr(0, value.size() - 3)).ok());
  }
  SECTION("an entry in the middle gone") {
    REQUIRE(mem.db->raw()->Delete({}, LevelDbLogStore::entry_key(5, 3)).ok());
  }
  SECTION("an entry moved to another index") {
    std::string value;
    REQUIRE(mem.db->raw()->Get({}, LevelDbLogStore::entry_key(5, 2), &value).ok());
    REQUIRE(mem.db->raw()->Put({}, LevelDbLogStore::entry_key(5, 3), value).ok());
  }
  auto r = LevelDbLogStore::open(mem.db, 5);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().is(Status::Code::corruption));
}

TEST_CASE("levelDbLogStore_coreRestartsFromIt", "[raft][store][leveldb]") {
  MemDb mem;
  TimePoint now{};
  Index committed = 0;
  {
    auto store = mem.store(9);
    REQUIRE(bootstrap(*store, {"solo"}).ok());
    auto core = Core::open(Config::local(), "solo", *store, Rng(1), 0, now);
    REQUIRE(core.ok());
    auto drive = [&](const Event& ev) {
      Actions a = (*core)->step(ev, now);
      REQUIRE(a.status.ok());
      REQUIRE(store->write(a.persist, a.must_sync).ok());
      if (!a.persist.entries.empty()) {
        const Entry& last = a.persist.entries.back();
        Actions b = (*core)->step(Persisted{{last.term, last.index}}, now);
        REQUIRE(store->write(b.persist, b.must_sync).ok());
      }
    };
    drive(Campaign{});
    for (int i = 0; i < 5; ++i) drive(Propose{to_bytes("x")});
    committed = (*core)->commit_index();
    CHECK(committed == 7);
  }
  mem.reopen();
  auto store = mem.store(9);
  auto core = Core::open(Config::local(), "solo", *store, Rng(2), 0, now);
  REQUIRE(core.ok());
  CHECK((*core)->term() == 1);
  CHECK((*core)->commit_index() == committed);
  CHECK((*core)->last_index() == 7);
  // The restarted member hands the committed entries to its (empty) state machine again.
  Actions a = (*core)->step(Tick{}, now);
  CHECK(a.apply.size() == 6);
}

TEST_CASE("codec_rejectsGarbageWithCorruption", "[raft][codec]") {
  const Entry e = entry(3, 9, "payload");
  Bytes enc = codec::encode_entry(e);
  CHECK(*codec::decode_entry(enc) == e);
  for (size_t cut = 0; cut < enc.size(); ++cut) {
    CHECK(codec::decode_entry(ByteView(enc).first(cut)).status().is(Status::Code::corruption));
  }
  enc.push_back(0);
  CHECK(codec::decode_entry(enc).status().is(Status::Code::corruption));
  CHECK(codec::decode_config_change(Bytes{9, 0, 0, 0, 0}).status().is(Status::Code::corruption));
  const ConfigChange c{ConfigChangeType::add_voter, "n7"};
  CHECK(*codec::decode_config_change(codec::encode_config_change(c)) == c);
  Bytes sealed = codec::seal("k", to_bytes("abc"));
  CHECK(codec::unseal("k", sealed).ok());
  CHECK(codec::unseal("other key", sealed).status().is(Status::Code::corruption));
}

}  // namespace
}  // namespace shoal::raft
