// The linearizability checker must say yes to histories that have a legal order and no to
// those that do not, including the subtle cases: a stale read, a read that goes back in time
// between two concurrent reads, and puts whose outcome the client never learned.
#include <catch2/catch.hpp>

#include "tests/lincheck/kv_linearizability.h"

using namespace shoal::lincheck;
using Catch::Matchers::Contains;

namespace {

KvOp put(uint64_t c, std::string key, std::string v, int64_t call, int64_t ret) {
  return {c, OpKind::put, std::move(key), std::move(v), call, ret};
}
KvOp get(uint64_t c, std::string key, std::string v, int64_t call, int64_t ret) {
  return {c, OpKind::get, std::move(key), std::move(v), call, ret};
}

}  // namespace

TEST_CASE("a sequential history that follows the register is linearizable", "[lincheck]") {
  auto v = check_kv({put(1, "x", "a", 0, 10), get(2, "x", "a", 20, 30), put(1, "x", "b", 40, 50),
                     get(2, "x", "b", 60, 70), get(3, "y", "", 0, 5)});
  CHECK(v.linearizable);
  CHECK(v.complete);
  CHECK(v.keys == 2);
}

TEST_CASE("a stale read after a completed write is caught", "[lincheck]") {
  auto v = check_kv({put(1, "x", "a", 0, 10), put(1, "x", "b", 20, 30), get(2, "x", "a", 40, 50)});
  CHECK_FALSE(v.linearizable);
  CHECK(v.complete);
  CHECK(v.key == "x");
  CHECK_THAT(v.explanation, Contains("get(x) -> 'a'"));
}

TEST_CASE("a read of a value nobody wrote yet is caught", "[lincheck]") {
  CHECK_FALSE(check_kv({get(2, "x", "a", 0, 10), put(1, "x", "a", 20, 30)}).linearizable);
  CHECK_FALSE(check_kv({get(2, "x", "zz", 0, 10)}).linearizable);
}

TEST_CASE("concurrent ops may take effect in either order, but reads may not go back", "[lincheck]") {
  // The put overlaps both reads: "" then "a" is fine ...
  CHECK(check_kv({put(1, "x", "a", 0, 100), get(2, "x", "", 10, 20), get(3, "x", "a", 30, 40)})
            .linearizable);
  // ... and "a" then "" is not: once a read saw the write, a later read cannot miss it.
  auto v = check_kv({put(1, "x", "a", 0, 100), get(2, "x", "a", 10, 20), get(3, "x", "", 30, 40)});
  CHECK_FALSE(v.linearizable);
  // Two overlapping writes: reads may see them in either order, but consistently.
  CHECK(check_kv({put(1, "x", "a", 0, 50), put(2, "x", "b", 0, 50), get(3, "x", "b", 60, 70),
                  get(3, "x", "b", 80, 90)})
            .linearizable);
  CHECK_FALSE(check_kv({put(1, "x", "a", 0, 50), put(2, "x", "b", 0, 50), get(3, "x", "b", 60, 70),
                        get(3, "x", "a", 80, 90)})
                  .linearizable);
}

TEST_CASE("a put with an unknown outcome may take effect late or never", "[lincheck]") {
  // Never happened.
  CHECK(check_kv({put(1, "x", "a", 0, kPending), get(2, "x", "", 50, 60)}).linearizable);
  // Happened, long after the client gave up.
  CHECK(check_kv({put(1, "x", "a", 0, kPending), get(2, "x", "", 50, 60), get(2, "x", "a", 500, 600)})
            .linearizable);
  // But once seen it stays (no later write), and it cannot act before its call.
  CHECK_FALSE(check_kv({put(1, "x", "a", 0, kPending), get(2, "x", "a", 50, 60),
                        get(2, "x", "", 70, 80)})
                  .linearizable);
  CHECK_FALSE(check_kv({get(2, "x", "a", 0, 10), put(1, "x", "a", 20, kPending)}).linearizable);
}

TEST_CASE("a lost acknowledged write is caught", "[lincheck]") {
  // What a Raft bug that forgets a committed entry looks like from the clients.
  auto v = check_kv({put(1, "k", "1", 0, 10), put(1, "k", "2", 20, 30), get(2, "k", "2", 40, 50),
                     get(2, "k", "1", 60, 70)});
  CHECK_FALSE(v.linearizable);
  CHECK_THAT(v.explanation, Contains("key k"));
}

TEST_CASE("keys are judged separately and the failing key is named", "[lincheck]") {
  auto v = check_kv({put(1, "a", "1", 0, 10), get(1, "a", "1", 20, 30), put(1, "b", "1", 0, 10),
                     get(2, "b", "", 20, 30)});
  CHECK_FALSE(v.linearizable);
  CHECK(v.key == "b");
}

TEST_CASE("a long concurrent history of a real register checks quickly", "[lincheck]") {
  // Five clients hammer one register; each op takes effect at a random point inside its
  // interval, so the history is linearizable by construction, with heavy overlap.
  uint64_t s = 42;
  auto rnd = [&](uint64_t bound) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (s >> 33) % bound;
  };
  struct Pending { KvOp op; int64_t at; };
  std::vector<KvOp> history;
  std::vector<int64_t> busy_until(5, 0);
  std::vector<Pending> all;
  for (int k = 0; k < 2000; ++k) {
    const uint64_t c = rnd(5);
    const int64_t call = busy_until[c] + int64_t(rnd(20));
    const int64_t ret = call + 1 + int64_t(rnd(60));
    busy_until[c] = ret + 1;
    const int64_t at = call + int64_t(rnd(uint64_t(ret - call)));
    KvOp op = rnd(2) ? put(c, "r", "v" + std::to_string(k), call, ret) : get(c, "r", "", call, ret);
    all.push_back({op, at});
  }
  std::sort(all.begin(), all.end(), [](const Pending& a, const Pending& b) { return a.at < b.at; });
  std::string value;
  for (auto& p : all) {
    if (p.op.kind == OpKind::put) value = p.op.value;
    else p.op.value = value;
    history.push_back(p.op);
  }
  auto v = check_kv(history);
  CHECK(v.complete);
  CHECK(v.linearizable);
  // Corrupt one read in the middle: now it must fail.
  for (auto& op : history) {
    if (op.kind == OpKind::get && op.call > 10000 && !op.value.empty()) {
      op.value = "never-written";
      break;
    }
  }
  CHECK_FALSE(check_kv(history).linearizable);
}

TEST_CASE("the search budget is reported, not mistaken for a verdict", "[lincheck]") {
  std::vector<KvOp> h;
  for (int k = 0; k < 40; ++k) h.push_back(put(uint64_t(k), "x", "v" + std::to_string(k), 0, 1000));
  h.push_back(get(99, "x", "nope", 2000, 2001));
  auto v = check_kv(h, /*max_states=*/1000);
  CHECK_FALSE(v.complete);
}
