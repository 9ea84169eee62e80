// The search, per key. The history becomes a doubly linked list of call and return events in
// time order; linearizing an operation lifts its call and return out of the list, and
// backtracking puts them back. A return at the head of what is left means its operation had
// to take effect by then and none of the placements tried so far allows it: undo the last.
#include "tests/lincheck/kv_linearizability.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_set>

namespace shoal::lincheck {

namespace {

std::string time_text(int64_t t) {
  return t == kPending ? "pending" : fmt::format("{:.3f}s", double(t) / 1e9);
}

struct Node {
  size_t op = 0;  // index into the key's ops
  bool call = false;
  int64_t time = 0;
  size_t match = 0;  // call: its return node; return: its call node
  size_t prev = 0, next = 0;
};
constexpr size_t kNil = SIZE_MAX;

struct Config {
  std::vector<uint64_t> bits;
  int32_t state = 0;
  bool operator==(const Config&) const = default;
};
struct ConfigHash {
  size_t operator()(const Config& c) const {
    uint64_t h = 1469598103934665603ULL ^ uint64_t(uint32_t(c.state));
    for (uint64_t w : c.bits) h = (h ^ w) * 1099511628211ULL + (h >> 29);
    return size_t(h);
  }
};

struct KeyResult {
  bool ok = true;
  bool complete = true;
  size_t states = 0;
  std::string explanation;
};

KeyResult check_key(const std::vector<const KvOp*>& ops, size_t max_states) {
  KeyResult res;
  const size_t m = ops.size();
  // Values as small integers; absent is 0.
  std::map<std::string, int32_t> ids{{"", 0}};
  std::vector<int32_t> value(m);
  for (size_t i = 0; i < m; ++i) {
    value[i] = ids.emplace(ops[i]->value, int32_t(ids.size())).first->second;
  }

  // Node 0 is the head sentinel; events follow in time order (calls before returns at the
  // same instant: touching intervals count as concurrent).
  std::vector<Node> nodes(1 + 2 * m);
  std::vector<size_t> order(2 * m);
  for (size_t i = 0; i < m; ++i) {
    nodes[1 + 2 * i] = {i, true, ops[i]->call, 2 + 2 * i, 0, 0};
    nodes[2 + 2 * i] = {i, false, ops[i]->ret, 1 + 2 * i, 0, 0};
    order[2 * i] = 1 + 2 * i;
    order[2 * i + 1] = 2 + 2 * i;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (nodes[a].time != nodes[b].time) return nodes[a].time < nodes[b].time;
    return nodes[a].call && !nodes[b].call;
  });
  size_t prev = 0;
  for (size_t n : order) {
    nodes[prev].next = n;
    nodes[n].prev = prev;
    prev = n;
  }
  nodes[prev].next = kNil;

  auto lift = [&](size_t c) {
    for (size_t n : {c, nodes[c].match}) {
      nodes[nodes[n].prev].next = nodes[n].next;
      if (nodes[n].next != kNil) nodes[nodes[n].next].prev = nodes[n].prev;
    }
  };
  auto unlift = [&](size_t c) {
    for (size_t n : {nodes[c].match, c}) {
      nodes[nodes[n].prev].next = n;
      if (nodes[n].next != kNil) nodes[nodes[n].next].prev = n;
    }
  };

  std::unordered_set<Config, ConfigHash> seen;
  Config cur{std::vector<uint64_t>((m + 63) / 64, 0), 0};
  std::vector<std::pair<size_t, int32_t>> stack;  // (call node, state before it)
  size_t best = 0, stuck_op = kNil;
  int32_t stuck_state = 0;
  size_t entry = nodes[0].next;
  // A call is never last (its return follows it), so `entry` stays on the list.
  while (nodes[0].next != kNil) {
    const Node& e = nodes[entry];
    if (e.call) {
      const KvOp& op = *ops[e.op];
      bool legal = true;
      int32_t next_state = cur.state;
      if (op.kind == OpKind::get) {
        legal = value[e.op] == cur.state;
      } else {
        next_state = value[e.op];
      }
      if (legal) {
        Config c = cur;
        c.bits[e.op / 64] |= uint64_t{1} << (e.op % 64);
        c.state = next_state;
        if (seen.insert(c).second) {
          if (seen.size() > max_states) {
            res.complete = false;
            res.states = seen.size();
            return res;
          }
          stack.emplace_back(entry, cur.state);
          cur = std::move(c);
          lift(entry);
          entry = nodes[0].next;
          continue;
        }
      }
      entry = e.next;
      continue;
    }
    // A return: its operation must already be linearized, and it is not.
    if (stack.size() >= best) {
      best = stack.size();
      stuck_op = e.op;
      stuck_state = cur.state;
    }
    if (stack.empty()) break;
    auto [call, state] = stack.back();
    stack.pop_back();
    cur.bits[nodes[call].op / 64] &= ~(uint64_t{1} << (nodes[call].op % 64));
    cur.state = state;
    unlift(call);
    entry = nodes[call].next;
  }
  res.states = seen.size();
  if (nodes[0].next == kNil) return res;  // everything linearized

  res.ok = false;
  std::string model = "absent";
  for (const auto& [v, id] : ids) {
    if (id == stuck_state && id != 0) model = fmt::format("'{}'", v);
  }
  const KvOp& s = *ops[stuck_op];
  res.explanation = fmt::format(
      "at most {} of {} ops linearize; then {} cannot take effect (the value would be {}). "
      "Ops overlapping it:",
      best, m, describe(s), model);
  size_t shown = 0;
  for (size_t i = 0; i < m && shown < 12; ++i) {
    const KvOp& o = *ops[i];
    if (i == stuck_op || o.call > s.ret || o.ret < s.call) continue;
    res.explanation += "\n  " + describe(o);
    ++shown;
  }
  return res;
}

}  // namespace

std::string describe(const KvOp& op) {
  if (op.kind == OpKind::put) {
    return fmt::format("c{} put({}, '{}') [{}, {}]", op.client, op.key, op.value,
                       time_text(op.call), time_text(op.ret));
  }
  return fmt::format("c{} get({}) -> '{}' [{}, {}]", op.client, op.key, op.value,
                     time_text(op.call), time_text(op.ret));
}

Verdict check_kv(const std::vector<KvOp>& history, size_t max_states) {
  Verdict v;
  v.ops = history.size();
  std::map<std::string, std::vector<const KvOp*>> by_key;
  for (const KvOp& op : history) by_key[op.key].push_back(&op);
  v.keys = by_key.size();
  for (const auto& [key, ops] : by_key) {
    KeyResult r = check_key(ops, max_states);
    v.states += r.states;
    if (!r.complete) {
      v.complete = false;
      v.key = key;
      v.explanation = fmt::format("key {}: gave up after {} states ({} ops)", key, r.states,
                                  ops.size());
      return v;
    }
    if (!r.ok) {
      v.linearizable = false;
      v.key = key;
      v.explanation = fmt::format("key {}: {}", key, r.explanation);
      return v;
    }
  }
  return v;
}

}  // namespace shoal::lincheck
