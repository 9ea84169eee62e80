// LogView: the core's view of durable + not-yet-durable entries, and the LogWrite it asks
// the shell for. One test per rule of its contract (raft/log_view.h).
#include <catch2/catch.hpp>

#include "raft/core.h"
#include "raft/log_view.h"
#include "raft/memory_log_store.h"

namespace shoal::raft {
namespace {

std::vector<Entry> run(Term term, Index from, Index to) {
  std::vector<Entry> out;
  for (Index i = from; i <= to; ++i) out.push_back(Entry{term, i, EntryType::normal, {}});
  return out;
}

struct Fixture {
  MemoryLogStore store;
  LogView view{store};
  Fixture() { REQUIRE(view.load().ok()); }
  // Plays the shell: writes what the view asks for, then acknowledges it.
  void persist() {
    LogWrite w = view.take_write();
    REQUIRE(store.write(w, true).ok());
    if (!w.entries.empty()) view.persisted({w.entries.back().term, w.entries.back().index});
  }
  void check_equal_to_store() {
    REQUIRE(store.last_index() == view.last_index());
    for (Index i = view.first_index(); i <= view.last_index(); ++i) {
      CHECK(*store.term_at(i) == view.term_at(i));
    }
  }
};

TEST_CASE("logView_appendedEntriesAreReadableBeforeTheyAreDurable", "[raft][logview]") {
  Fixture f;
  f.view.append(run(1, 1, 3));
  CHECK(f.view.last_index() == 3);
  CHECK(f.view.persisted_index() == 0);
  CHECK(f.view.term_at(2) == 1);
  CHECK(f.store.last_index() == 0);
  f.persist();
  CHECK(f.view.persisted_index() == 3);
  CHECK(f.view.slice(1, 4, 10, SIZE_MAX) == run(1, 1, 3));  // now read from the store
}

TEST_CASE("logView_sliceSpansStoreAndMemoryAndHonoursLimits", "[raft][logview]") {
  Fixture f;
  f.view.append(run(1, 1, 3));
  f.persist();
  f.view.append(run(2, 4, 6));
  CHECK(f.view.slice(2, 7, 100, SIZE_MAX).size() == 5);
  CHECK(f.view.slice(2, 7, 2, SIZE_MAX).size() == 2);
  CHECK(f.view.slice(3, 7, 3, SIZE_MAX).back().index == 5);
}

TEST_CASE("logView_truncatingOnlyUnwrittenEntriesNeedsNoStoreTruncation", "[raft][logview]") {
  Fixture f;
  f.view.append(run(1, 1, 5));
  f.view.truncate(4);
  LogWrite w = f.view.take_write();
  CHECK_FALSE(w.truncate_from);
  CHECK(w.entries == run(1, 1, 3));
}

TEST_CASE("logView_truncatingDurableEntriesAsksTheStoreToo", "[raft][logview]") {
  Fixture f;
  f.view.append(run(1, 1, 5));
  f.persist();
  f.view.truncate(3);
  f.view.append(run(2, 3, 4));
  CHECK(f.view.term_at(3) == 2);  // the stale store entry is hidden already
  LogWrite w = f.view.take_write();
  CHECK(w.truncate_from == 3);
  REQUIRE(f.store.write(w, true).ok());
  f.view.persisted({2, 4});
  f.check_equal_to_store();
}

TEST_CASE("logView_lateAckForOverwrittenEntriesIsIgnored", "[raft][logview]") {
  Fixture f;
  f.view.append(run(1, 1, 5));
  LogWrite first = f.view.take_write();
  f.view.truncate(4);
  f.view.append(run(2, 4, 4));
  LogWrite second = f.view.take_write();
  REQUIRE(f.store.write(first, true).ok());
  f.view.persisted({1, 5});  // entry 5 of term 1 no longer exists in the view
  CHECK(f.view.persisted_index() == 0);
  REQUIRE(f.store.write(second, true).ok());
  f.view.persisted({2, 4});
  CHECK(f.view.persisted_index() == 4);
  f.check_equal_to_store();
}

TEST_CASE("logView_installReplacesTheLog", "[raft][logview]") {
  Fixture f;
  f.view.append(run(1, 1, 5));
  f.persist();
  SnapshotWrite snap{{9, 3, {}}, std::make_shared<const Bytes>()};
  f.view.install(snap);
  CHECK(f.view.first_index() == 10);
  CHECK(f.view.last_index() == 9);
  CHECK(f.view.term_at(9) == 3);
  CHECK_FALSE(f.view.term_at(5));
  f.persist();
  CHECK(f.store.first_index() == 10);
  CHECK(f.store.last_index() == 9);
}

TEST_CASE("logView_compactionKeepsTheSuffix", "[raft][logview]") {
  Fixture f;
  f.view.append(run(1, 1, 8));
  f.persist();
  f.view.compact({{5, 1, {}}, std::make_shared<const Bytes>()});
  CHECK(f.view.first_index() == 6);
  CHECK(f.view.term_at(5) == 1);
  CHECK_FALSE(f.view.term_at(4));
  f.persist();
  f.check_equal_to_store();
}

TEST_CASE("logView_storeReadFailureIsStickyAndReported", "[raft][logview]") {
  // A store that claims entries it cannot read.
  struct Broken final : LogStore {
    Index first_index() const override { return 1; }
    Index last_index() const override { return 3; }
    Result<Term> term_at(Index) const override { return Status::io_error("disk on fire"); }
    Result<std::vector<Entry>> entries(Index, Index, size_t) const override {
      return Status::io_error("disk on fire");
    }
    Result<HardState> hard_state() const override { return HardState{}; }
    Result<SnapshotMeta> snapshot_meta() const override { return SnapshotMeta{}; }
    Result<Bytes> snapshot_data() const override { return Bytes{}; }
    Status write(const LogWrite&, bool) override { return Status::io_error("disk on fire"); }
    Status sync() override { return Status::ok_status(); }
  } broken;
  LogView view(broken);
  REQUIRE(view.load().ok());
  CHECK_FALSE(view.term_at(2));
  CHECK(view.error().is(Status::Code::io_error));
  CHECK(view.slice(1, 3, 10, SIZE_MAX).empty());
  CHECK(view.error().message().find("disk on fire") != std::string::npos);
}

// Forwards to a MemoryLogStore until told to fail every read.
struct Flaky final : LogStore {
  MemoryLogStore inner;
  bool broken = false;
  Status fail() const { return Status::corruption("entry 3: checksum mismatch"); }
  Index first_index() const override { return inner.first_index(); }
  Index last_index() const override { return inner.last_index(); }
  Result<Term> term_at(Index i) const override {
    if (broken) return fail();
    return inner.term_at(i);
  }
  Result<std::vector<Entry>> entries(Index lo, Index hi, size_t max) const override {
    if (broken) return fail();
    return inner.entries(lo, hi, max);
  }
  Result<HardState> hard_state() const override { return inner.hard_state(); }
  Result<SnapshotMeta> snapshot_meta() const override { return inner.snapshot_meta(); }
  Result<Bytes> snapshot_data() const override { return inner.snapshot_data(); }
  Status write(const LogWrite& w, bool sync) override { return inner.write(w, sync); }
  Status sync() override { return inner.sync(); }
};

TEST_CASE("core_stopsForGoodWhenItsLogCannotBeRead", "[raft][logview]") {
  Flaky store;
  REQUIRE(bootstrap(store, {"a", "b", "c"}).ok());
  REQUIRE(store.append({Entry{1, 2, EntryType::noop, {}}, Entry{1, 3, EntryType::normal, {}}}).ok());
  auto core = Core::open(Config::local(), "a", store, Rng(1), 0, TimePoint{});
  REQUIRE(core.ok());
  store.broken = true;
  // A vote request makes the core compare logs: it must read, fail, and send nothing.
  RequestVote rv;
  rv.term = 2, rv.from = "b", rv.to = "a", rv.last = {1, 3};
  Actions a = (*core)->step(MessageIn{rv}, TimePoint{});
  CHECK(a.status.is(Status::Code::corruption));
  CHECK(a.send_after_persist.empty());
  CHECK(a.persist.empty());
  store.broken = false;
  a = (*core)->step(Tick{}, TimePoint{} + std::chrono::seconds(10));
  CHECK(a.status.is(Status::Code::corruption));  // sticky: the group needs an operator
  CHECK(a.send_now.empty());
}

}  // namespace
}  // namespace shoal::raft
