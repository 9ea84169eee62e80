// tests/lincheck/kv_linearizability.h
//
// A linearizability checker for key-value histories, in the style of Knossos and Porcupine:
// the Wing & Gong search as improved by Lowe (linearize the earliest pending call that the
// model accepts, backtrack on a return whose call could not be placed), with memoization of
// (set of linearized operations, model state) so each configuration is explored once. The
// history is split per key first (a register per key is independent of the others, so the
// whole history is linearizable iff each key's is), which keeps every search small.
//
// Contract:
//  - An operation is a get or a put of one key, with the time the client sent it (`call`)
//    and the time it got its answer (`ret`). A put whose outcome the client never learned
//    (timeout, crash) has ret = kPending: it may have taken effect at any time after its call,
//    or never. Gets without an answer tell nothing and should be left out.
//  - The model: every key starts absent (a get of an absent key returns ""), a put sets it.
//  - check_kv() is deterministic. It gives up after `max_states` memoized configurations
//    per key and says so (complete = false); the verdict is then neither pass nor fail.
//  - Lives in tests/ because it judges runs; the simulator links it to check every Raft run.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace shoal::lincheck {

inline constexpr int64_t kPending = std::numeric_limits<int64_t>::max();

enum class OpKind : uint8_t { get, put };

struct KvOp {
  uint64_t client = 0;
  OpKind kind = OpKind::get;
  std::string key;
  std::string value;  // put: the value written; get: the value read ("" if absent)
  int64_t call = 0;   // any monotonic unit (the simulator uses nanoseconds)
  int64_t ret = kPending;
};

struct Verdict {
  bool linearizable = true;
  bool complete = true;     // false: a search ran out of budget (then `linearizable` is moot)
  std::string key;          // the first key that failed (or ran out of budget)
  std::string explanation;  // for a failure: where the search got stuck, with the ops
  size_t ops = 0;
  size_t keys = 0;
  size_t states = 0;        // memoized configurations over all keys
};

Verdict check_kv(const std::vector<KvOp>& history, size_t max_states = 2'000'000);

// "c3 put(k1, v7) [1.200s, 1.250s]" / "... [1.200s, pending]".
std::string describe(const KvOp& op);

}  // namespace shoal::lincheck
