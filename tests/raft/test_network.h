// tests/raft/test_network.h
//
// A shell for raft::Core in tests: N members over an in-memory network, with fake time, and
// a tiny state machine. It follows the Actions contract to the letter (write + sync, then
// send, then apply, then report Persisted/Applied) and checks safety across members as it goes.
//
//  - Messages wait in a queue with a delivery time (latency in [latency_min, latency_max],
//    which reorders them) and can be dropped at random, by partition, or by a filter.
//  - deliver_all() delivers until quiet, ignoring latency: for step-by-step tests.
//    run_until(t) is event driven: for randomized runs in virtual time.
//  - crash(id) drops the core (and with lose_unsynced, unsynced writes); restart(id) opens a
//    new core on the same MemoryLogStore and restores the state machine from its snapshot.
//  - Checks: one leader per term (election safety), every member applies the same entry at
//    each index (state machine safety), a new leader holds every committed entry (leader
//    completeness), and check_log_matching() compares logs pairwise. A failure throws
//    std::logic_error, which Catch2 reports with the message.
#pragma once

#include <fmt/format.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "raft/codec.h"
#include "raft/core.h"
#include "raft/leveldb_log_store.h"
#include "raft/memory_log_store.h"
#include "tests/raft/fault_env.h"

namespace shoal::raft::test {

using namespace std::chrono_literals;

// The messages of one kind among `msgs`, in order.
template <typename T>
std::vector<T> of_type(const std::vector<Message>& msgs) {
  std::vector<T> out;
  for (const auto& m : msgs) {
    if (const auto* x = std::get_if<T>(&m)) out.push_back(*x);
  }
  return out;
}

// The state machine: a running hash of every normal entry applied, and the last index.
struct Machine {
  Index index = 0;
  uint64_t hash = 0;
  std::vector<Bytes> values;  // normal entries applied since start (not restored)

  void apply(const Entry& e) {
    hash = hash * 1099511628211ULL + e.term * 31 + e.index;
    for (uint8_t b : e.data) hash = (hash ^ b) * 1099511628211ULL;
    index = e.index;
    if (e.type == EntryType::normal) values.push_back(e.data);
  }
  Bytes snapshot() const {
    Bytes out(16);
    for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(index >> (8 * i));
    for (int i = 0; i < 8; ++i) out[8 + i] = static_cast<uint8_t>(hash >> (8 * i));
    return out;
  }
  void restore(const Bytes& data, Index at) {
    index = at, hash = 0;
    if (data.size() == 16) {
      index = 0;
      for (int i = 0; i < 8; ++i) index |= uint64_t{data[i]} << (8 * i);
      for (int i = 0; i < 8; ++i) hash |= uint64_t{data[8 + i]} << (8 * i);
    }
    values.clear();
  }
};

struct Member {
  NodeId id;
  // The store: a MemoryLogStore (`memory` points at it), or a LevelDbLogStore in its own
  // database on the network's LevelDB Env, closed on crash and reopened (and verified) on
  // restart.
  std::unique_ptr<LogStore> store;
  MemoryLogStore* memory = nullptr;
  std::shared_ptr<LevelDb> db;
  std::unique_ptr<Core> core;
  Machine machine;
  TimePoint wake_at = kTimeNever;
  std::vector<ReadState> reads;
  std::vector<ReadFailure> read_failures;
  Actions last;  // the Actions of the latest step, for tests that inspect them
  // async_persist: Actions whose disk part has not been carried out yet, with when it will be.
  std::deque<std::pair<TimePoint, Actions>> pending;
};

struct Envelope {
  Message message;
  TimePoint deliver_at;
};

class Network {
 public:
  // With `leveldb_env`, members keep their logs in LevelDB on that Env (e.g. a memenv). If it
  // is a FaultEnv, a crash loses what the crashed member had not synced.
  Network(std::vector<NodeId> voters, uint64_t seed, Config config = Config::local(),
          leveldb::Env* leveldb_env = nullptr)
      : config_(config), rng_(seed), leveldb_env_(leveldb_env),
        fault_env_(dynamic_cast<FaultEnv*>(leveldb_env)) {
    for (const auto& id : voters) {
      auto& m = add_member(id);
      if (Status s = bootstrap(*m.store, voters); !s.ok()) throw std::logic_error(s.to_string());
      open(m);
    }
  }

  // A member with an empty store: it joins once the leader adds it.
  Member& add_empty(const NodeId& id) {
    auto& m = add_member(id);
    open(m);
    return m;
  }

  Member& member(const NodeId& id) { return *members_.at(id); }
  Core& core(const NodeId& id) { return *members_.at(id)->core; }
  std::vector<NodeId> ids() const {
    std::vector<NodeId> out;
    for (const auto& [id, m] : members_) out.push_back(id);
    return out;
  }
  bool up(const NodeId& id) const { return members_.at(id)->core != nullptr; }
  TimePoint now() const { return now_; }
  Rng& rng() { return rng_; }
  std::deque<Envelope>& queue() { return queue_; }

  // ---- driving ----
  Actions step(const NodeId& id, const Event& ev) {
    Member& m = member(id);
    if (!m.core) return {};
    Actions a = m.core->step(ev, now_);
    m.core->check_invariants();
    Actions copy = a;
    handle(m, std::move(a));
    m.last = copy;
    return copy;
  }

  // Delivers queued messages (ignoring latency) until none is left.
  void deliver_all(size_t max_rounds = 100000) {
    for (size_t n = 0; !queue_.empty(); ++n) {
      if (n > max_rounds) throw std::logic_error("deliver_all: messages never stop");
      Envelope e = std::move(queue_.front());
      queue_.pop_front();
      deliver(std::move(e.message));
    }
  }

  // Advances time by `d`, ticking members whose timers are due (no message delivery).
  void advance(Duration d) {
    now_ += d;
    for (const auto& id : ids()) {
      if (up(id) && member(id).wake_at <= now_) step(id, Tick{});
    }
  }

  // Event-driven virtual time: deliver messages at their time and tick members when due.
  void run_until(TimePoint end) {
    while (true) {
      TimePoint next = end;
      for (const auto& e : queue_) next = std::min(next, e.deliver_at);
      for (const auto& [id, m] : members_) {
        if (m->core) next = std::min(next, m->wake_at);
        if (m->core && !m->pending.empty()) next = std::min(next, m->pending.front().first);
      }
      if (next > end) break;
      now_ = std::max(now_, next);
      bool acted = false;
      for (size_t i = 0; i < queue_.size();) {
        if (queue_[i].deliver_at <= now_) {
          Message msg = std::move(queue_[i].message);
          queue_.erase(queue_.begin() + static_cast<ptrdiff_t>(i));
          deliver(std::move(msg));
          acted = true;
        } else {
          ++i;
        }
      }
      for (const auto& id : ids()) {
        Member& m = member(id);
        while (m.core && !m.pending.empty() && m.pending.front().first <= now_) {
          Actions a = std::move(m.pending.front().second);
          m.pending.pop_front();
          complete(m, std::move(a));
          acted = true;
        }
        if (up(id) && m.wake_at <= now_) {
          step(id, Tick{});
          acted = true;
        }
      }
      if (!acted && next == end) break;
    }
    now_ = std::max(now_, end);
  }
  void run_for(Duration d) { run_until(now_ + d); }

  // Elects `id` by timing out only it (others' timers are pushed back by its messages).
  void elect(const NodeId& id) {
    step(id, Campaign{});
    deliver_all();
    if (core(id).role() != Role::leader) {
      throw std::logic_error(fmt::format("{} did not become leader", id));
    }
  }

  // Lets time pass without ticking anyone, so that followers' leader leases run out and
  // they will vote for a new candidate (the shell simply did not wake them).
  void expire_leases() { now_ += config_.election_timeout_min; }

  // Proposes on `id` and delivers until quiet; returns where the entry landed.
  LogPosition propose(const NodeId& id, std::string_view data) {
    Actions a = step(id, Propose{to_bytes(data)});
    if (!a.status.ok()) throw std::logic_error(a.status.to_string());
    deliver_all();
    return *a.proposed;
  }

  // ---- faults ----
  double drop_rate = 0;
  Duration latency_min = 0ms;
  Duration latency_max = 0ms;
  // When set, the disk part of each Actions (and what must follow it) happens up to
  // persist_delay_max later, as in a shell that syncs in the background; send_now goes at once.
  bool async_persist = false;
  Duration persist_delay_max = 10ms;
  // When set, every message delivered is appended here as one line (describe()).
  std::vector<std::string>* transcript = nullptr;
  // Return false to drop a message.
  std::function<bool(const Message&)> filter;

  void isolate(const NodeId& id) { partition({id}); }
  // Members in `group` can only talk among themselves; the rest only among themselves.
  void partition(std::set<NodeId> group) { group_ = std::move(group); }
  void heal() { group_.clear(); }

  void crash(const NodeId& id) {
    Member& m = member(id);
    m.core.reset();
    m.pending.clear();  // never written: lost with the process
    if (m.memory) m.memory->crash();
    if (m.db) {
      m.store.reset();
      m.db.reset();
      if (fault_env_) fault_env_->drop_unsynced(db_path(id) + "/");
    }
    std::erase_if(queue_, [&](const Envelope& e) { return header(e.message).to == id; });
  }
  void restart(const NodeId& id) {
    Member& m = member(id);
    if (m.core) return;
    open(m);
  }

  // ---- checks ----
  // Leader of the highest term among live members, or "".
  NodeId leader() const {
    NodeId best;
    Term term = 0;
    for (const auto& [id, m] : members_) {
      if (m->core && m->core->role() == Role::leader && m->core->term() >= term) {
        best = id, term = m->core->term();
      }
    }
    return best;
  }

  void check_log_matching() const {
    for (const auto& [a, ma] : members_) {
      for (const auto& [b, mb] : members_) {
        if (a >= b || !ma->core || !mb->core) continue;
        const LogView& la = ma->core->log();
        const LogView& lb = mb->core->log();
        const Index lo = std::max(la.first_index(), lb.first_index());
        const Index hi = std::min(la.last_index(), lb.last_index());
        // Find the highest index where the terms agree; everything up to it must be equal.
        Index top = 0;
        for (Index i = hi; i >= lo && i > 0; --i) {
          if (la.term_at(i) == lb.term_at(i)) {
            top = i;
            break;
          }
        }
        if (top < lo) continue;
        auto ea = la.slice(lo, top + 1, SIZE_MAX, SIZE_MAX);
        auto eb = lb.slice(lo, top + 1, SIZE_MAX, SIZE_MAX);
        if (ea != eb) {
          throw std::logic_error(fmt::format(
              "log matching: {} and {} agree on the term at {} but differ in [{}, {}]", a, b,
              top, lo, top));
        }
      }
    }
  }

  Index max_commit() const { return max_commit_; }
  const std::map<Index, uint64_t>& committed_hashes() const { return applied_hash_; }

 private:
  Member& add_member(const NodeId& id) {
    auto m = std::make_unique<Member>();
    m->id = id;
    auto& ref = *m;
    members_[id] = std::move(m);
    if (!leveldb_env_) {
      auto mem = std::make_unique<MemoryLogStore>();
      ref.memory = mem.get();
      ref.store = std::move(mem);
    } else {
      open_leveldb(ref);
    }
    return ref;
  }

  static std::string db_path(const NodeId& id) { return "/raft-" + id; }

  void open_leveldb(Member& m) {
    auto db = LevelDb::open({.path = db_path(m.id), .env = leveldb_env_});
    if (!db.ok()) throw std::logic_error(db.status().to_string());
    m.db = *db;
    auto store = LevelDbLogStore::open(m.db, 1);
    if (!store.ok()) throw std::logic_error(store.status().to_string());
    m.store = std::move(*store);
  }

  void open(Member& m) {
    if (!m.store) open_leveldb(m);
    auto snap = m.store->snapshot_meta();
    auto data = m.store->snapshot_data();
    m.machine.restore(*data, snap->index);
    m.machine.index = snap->index;
    auto core = Core::open(config_, m.id, *m.store, rng_.fork(), m.machine.index, now_);
    if (!core.ok()) throw std::logic_error(core.status().to_string());
    m.core = std::move(*core);
    m.wake_at = now_;
  }

  void deliver(Message msg) {
    const NodeId to = header(msg).to;
    if (!members_.count(to) || !up(to)) return;
    if (transcript) transcript->push_back(describe(msg));
    step(to, MessageIn{std::move(msg)});
  }

  bool reachable(const NodeId& a, const NodeId& b) const {
    if (group_.empty()) return true;
    return group_.count(a) == group_.count(b);
  }

  void enqueue(Message msg) {
    const auto& h = header(msg);
    if (!reachable(h.from, h.to)) return;
    if (filter && !filter(msg)) return;
    if (drop_rate > 0 && rng_.uniform01() < drop_rate) return;
    Duration lat = latency_min;
    if (latency_max > latency_min) {
      lat += Duration(static_cast<Duration::rep>(rng_.uniform((latency_max - latency_min).count())));
    }
    queue_.push_back({std::move(msg), now_ + lat});
  }

  void handle(Member& m, Actions a) {
    m.wake_at = a.wake_at;
    check_leaders(m);
    max_commit_ = std::max(max_commit_, m.core->commit_index());
    for (auto& msg : a.send_now) enqueue(std::move(msg));
    a.send_now.clear();
    const bool disk_work = !a.persist.empty() || !a.send_after_persist.empty() || a.restore ||
                           !a.apply.empty() || !a.reads_ready.empty() || !a.reads_failed.empty();
    if (async_persist && disk_work) {
      TimePoint at = now_ + Duration(static_cast<Duration::rep>(
                                rng_.uniform(static_cast<uint64_t>(persist_delay_max.count()) + 1)));
      if (!m.pending.empty()) at = std::max(at, m.pending.back().first);
      m.pending.emplace_back(at, std::move(a));
      return;
    }
    complete(m, std::move(a));
  }

  // Carries out the part of an Actions that follows the disk: write, sync, send, apply, ack.
  void complete(Member& m, Actions a) {
    if (!a.persist.empty()) {
      Status s = m.store->write(a.persist, a.must_sync);
      if (!s.ok()) throw std::logic_error("store write: " + s.to_string());
    }
    for (auto& msg : a.send_after_persist) enqueue(std::move(msg));
    if (a.restore) m.machine.restore(*a.restore->data, a.restore->meta.index);
    for (const Entry& e : a.apply) {
      if (e.index != m.machine.index + 1) {
        throw std::logic_error(fmt::format("{} applies {} after {}", m.id, e.index,
                                           m.machine.index));
      }
      m.machine.apply(e);
      applied_term_[e.index] = e.term;
      auto [it, fresh] = applied_hash_.emplace(e.index, m.machine.hash);
      if (!fresh && it->second != m.machine.hash) {
        throw std::logic_error(fmt::format(
            "state machine safety: {} applied a different entry at {}", m.id, e.index));
      }
    }
    for (auto& r : a.reads_ready) m.reads.push_back(r);
    for (auto& f : a.reads_failed) m.read_failures.push_back(std::move(f));
    if (!a.persist.entries.empty()) {
      const Entry& last = a.persist.entries.back();
      step(m.id, Persisted{{last.term, last.index}});
    }
    if ((!a.apply.empty() || a.restore) && m.core) step(m.id, Applied{m.machine.index});
  }

  void check_leaders(const Member& m) {
    const Core& c = *m.core;
    if (c.role() != Role::leader) return;
    auto [it, fresh] = leaders_.emplace(c.term(), m.id);
    if (!fresh && it->second != m.id) {
      throw std::logic_error(fmt::format("election safety: {} and {} both lead term {}",
                                         it->second, m.id, c.term()));
    }
    if (!fresh) return;
    // Leader completeness: every entry applied anywhere so far is in the new leader's log.
    for (auto it = applied_term_.lower_bound(c.log().first_index()); it != applied_term_.end();
         ++it) {
      if (c.log().term_at(it->first) != it->second) {
        throw std::logic_error(fmt::format(
            "leader completeness: leader {} of term {} lacks committed entry {}", m.id,
            c.term(), it->first));
      }
    }
  }

  Config config_;
  Rng rng_;
  leveldb::Env* leveldb_env_ = nullptr;
  FaultEnv* fault_env_ = nullptr;
  TimePoint now_{};
  std::map<NodeId, std::unique_ptr<Member>> members_;
  std::deque<Envelope> queue_;
  std::set<NodeId> group_;
  std::map<Term, NodeId> leaders_;
  std::map<Index, uint64_t> applied_hash_;
  std::map<Index, Term> applied_term_;
  Index max_commit_ = 0;
};

}  // namespace shoal::raft::test
