// The multi-group host: several Hosts over memenv LevelDBs, wired by an in-memory pump
// that carries each flush's per-peer batches through the real wire encoding.
#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <set>

#include "raft/host.h"
#include "raft/kv_state_machine.h"
#include "raft/wire.h"

namespace shoal::raft {
namespace {

using namespace std::chrono_literals;

HostOptions options(const NodeId& self) {
  HostOptions o;
  o.self = self;
  o.config = Config::local();
  o.tick = 10ms;
  o.snapshot_every = 20;
  return o;
}

StateMachineFactory kv_factory() {
  return [](GroupId) { return std::make_unique<KvStateMachine>(); };
}

struct Cluster {
  struct Node {
    std::unique_ptr<leveldb::Env> env{leveldb::NewMemEnv(leveldb::Env::Default())};
    std::shared_ptr<LevelDb> db;
    std::unique_ptr<Host> host;
    std::vector<Completion> done;
    bool down = false;
  };
  std::map<NodeId, Node> nodes;
  TimePoint now = TimePoint(std::chrono::seconds(1));
  std::vector<std::tuple<NodeId, NodeId, Bytes>> wire;  // from, to, frame payload
  size_t batches_sent = 0;
  std::map<std::pair<NodeId, NodeId>, size_t> batches_per_pair;

  explicit Cluster(std::vector<NodeId> ids) {
    for (const auto& id : ids) open(id);
  }
  void open(const NodeId& id) {
    Node& n = nodes[id];
    n.host.reset();
    n.db.reset();
    auto db = LevelDb::open({.path = "/db", .env = n.env.get()});
    REQUIRE(db.ok());
    n.db = *db;
    auto h = Host::open(options(id), n.db, kv_factory(), std::hash<std::string>{}(id), now);
    REQUIRE(h.ok());
    n.host = std::move(*h);
    n.down = false;
  }
  Host& host(const NodeId& id) { return *nodes.at(id).host; }

  void flush_all() {
    for (auto& [id, n] : nodes) {
      if (n.down) continue;
      auto out = n.host->flush(now);
      REQUIRE(out.ok());
      for (auto& c : out->completions) n.done.push_back(std::move(c));
      for (auto& [to, batch] : out->sends) {
        ++batches_sent;
        ++batches_per_pair[{id, to}];
        wire.emplace_back(id, to, encode_batch(batch));
      }
    }
  }
  void deliver() {
    auto msgs = std::move(wire);
    wire.clear();
    for (auto& [from, to, payload] : msgs) {
      auto it = nodes.find(to);
      if (it == nodes.end() || it->second.down) continue;
      auto batch = decode_batch(payload, from, to);
      REQUIRE(batch.ok());
      it->second.host->receive(from, std::move(*batch), now);
    }
  }
  // One loop turn everywhere, `dt` later.
  void turn(Duration dt = 1ms) {
    now += dt;
    for (auto& [id, n] : nodes) {
      if (!n.down) n.host->tick(now);
    }
    flush_all();
    deliver();
    flush_all();
  }
  void run(Duration total, Duration dt = 1ms) {
    for (Duration t{}; t < total; t += dt) turn(dt);
  }
  std::optional<NodeId> leader(GroupId g) {
    for (auto& [id, n] : nodes) {
      if (n.down || !n.host->has_group(g)) continue;
      auto s = n.host->status(g);
      if (s.ok() && s->core.role == Role::leader) return id;
    }
    return std::nullopt;
  }
  bool wait_leader(GroupId g, Duration limit = 5s) {
    for (Duration t{}; t < limit; t += 1ms) {
      if (leader(g)) return true;
      turn();
    }
    return false;
  }
  std::optional<Completion> completion(const NodeId& id, uint64_t req) {
    for (auto& c : nodes.at(id).done) {
      if (c.id == req) return c;
    }
    return std::nullopt;
  }
  // Proposes on the group's leader and runs until the write completes.
  Completion put(GroupId g, const std::string& key, const std::string& value, uint64_t req) {
    REQUIRE(wait_leader(g));
    const NodeId l = *leader(g);
    host(l).propose(g, KvStateMachine::put_command(key, as_bytes(value)), req, now);
    for (int i = 0; i < 5000; ++i) {
      if (auto c = completion(l, req)) return *c;
      turn();
    }
    FAIL("write did not complete");
    return {};
  }
  std::optional<std::string> get(const NodeId& id, GroupId g, const std::string& key) {
    auto* kv = dynamic_cast<const KvStateMachine*>(host(id).machine(g));
    if (!kv) return std::nullopt;
    auto v = kv->get(key);
    if (!v) return std::nullopt;
    return std::string(as_string_view(*v));
  }
};

const std::vector<NodeId> kABC = {"a", "b", "c"};

TEST_CASE("host_groups_elect_replicate_and_apply_on_every_member", "[raft][host]") {
  Cluster c(kABC);
  for (GroupId g = 1; g <= 5; ++g) {
    for (const auto& id : kABC) REQUIRE(c.host(id).create_group(g, kABC, c.now).ok());
  }
  for (GroupId g = 1; g <= 5; ++g) {
    Completion w = c.put(g, "k", "v" + std::to_string(g), 100 + g);
    REQUIRE(w.status.ok());
  }
  c.run(200ms);
  for (GroupId g = 1; g <= 5; ++g) {
    for (const auto& id : kABC) CHECK(c.get(id, g, "k") == "v" + std::to_string(g));
  }
}

TEST_CASE("host_heartbeats_of_all_groups_leave_as_one_batch_per_peer", "[raft][host]") {
  Cluster c(kABC);
  for (GroupId g = 1; g <= 30; ++g) {
    for (const auto& id : kABC) REQUIRE(c.host(id).create_group(g, kABC, c.now).ok());
  }
  for (GroupId g = 1; g <= 30; ++g) REQUIRE(c.wait_leader(g));
  c.run(500ms);  // settle
  // Idle: each flush sends at most one batch to each peer, and leaders on a node beat on
  // the same grid ticks: over one second there are at most ~2 batches per pair per tick.
  c.batches_sent = 0;
  c.batches_per_pair.clear();
  const HostCounters before = c.host("a").counters();
  c.run(1s);
  const HostCounters after = c.host("a").counters();
  const size_t ticks = 1s / Config::local().heartbeat_interval;  // heartbeats per group
  for (const auto& [pair, n] : c.batches_per_pair) {
    INFO(pair.first << "->" << pair.second);
    // Heartbeats and their responses: one batch each way per heartbeat round (+ slack for
    // the grid), never one per group.
    CHECK(n <= 3 * (ticks + 1));
  }
  CHECK(after.messages_out - before.messages_out > 30 * ticks);  // many messages...
  CHECK(after.batches_out - before.batches_out <= 2 * 3 * (ticks + 1));  // ...few batches
  // An idle host writes nothing that needs a sync.
  CHECK(after.syncs == before.syncs);
}

TEST_CASE("host_rejects_unknown_groups_and_counts_stale_terms", "[raft][host]") {
  Cluster c(kABC);
  for (const auto& id : kABC) REQUIRE(c.host(id).create_group(7, kABC, c.now).ok());
  REQUIRE(c.wait_leader(7));
  Host& a = c.host("a");
  Heartbeat hb;
  hb.term = 1, hb.from = "b", hb.to = "a";
  a.receive("b", {{99, hb}}, c.now);
  CHECK(a.counters().rejected_unknown_group == 1);
  a.receive("a", {{7, hb}}, c.now);
  CHECK(a.counters().rejected_from_self == 1);
  // Term 0 is below every member's term once a leader was elected.
  Heartbeat old;
  old.term = 0, old.from = "b", old.to = "a";
  a.receive("b", {{7, old}}, c.now);
  CHECK(a.counters().stale_term == 1);
  REQUIRE(a.flush(c.now).ok());
  CHECK(a.status(7)->core.term >= 1);
}

TEST_CASE("host_survives_restart_from_its_database", "[raft][host]") {
  Cluster c(kABC);
  for (const auto& id : kABC) REQUIRE(c.host(id).create_group(3, kABC, c.now).ok());
  for (int i = 0; i < 50; ++i) REQUIRE(c.put(3, "k" + std::to_string(i), "v", 1000 + i).status.ok());
  c.run(100ms);
  for (const auto& id : kABC) {
    c.open(id);  // reopen the same database: groups come back from the directory
    REQUIRE(c.host(id).has_group(3));
  }
  c.run(100ms);
  for (const auto& id : kABC) CHECK(c.get(id, 3, "k49") == "v");
  REQUIRE(c.put(3, "after", "restart", 5000).status.ok());
}

// Snapshots every snapshot_every (20) entries while the state stays small; while it grows
// with every write, only once the entries since the last snapshot are as large as it:
// about 20, 40, 80, 160 and 320 entries in.
TEST_CASE("host_snapshots_by_entries_and_by_the_bytes_written_since", "[raft][host]") {
  auto snapshots_after = [](bool fresh_keys) {
    Cluster c(kABC);
    for (const auto& id : kABC) REQUIRE(c.host(id).create_group(1, kABC, c.now).ok());
    const std::string value(100, 'v');
    for (int i = 0; i < 300; ++i) {
      const std::string key = fresh_keys ? "k" + std::to_string(i) : "k";
      REQUIRE(c.put(1, key, value, 1000 + i).status.ok());
    }
    c.run(100ms);
    return c.host(*c.leader(1)).counters().snapshots_taken;
  };
  const uint64_t same_key = snapshots_after(false);
  const uint64_t growing = snapshots_after(true);
  CHECK(same_key >= 13);  // 300 / 20 = 15, less the first entries' slack
  CHECK(growing >= 3);
  CHECK(growing <= 5);
}

TEST_CASE("host_grows_a_group_by_snapshot_and_shrinks_and_deletes_it", "[raft][host]") {
  Cluster c({"a", "b", "c", "d"});
  for (const auto& id : kABC) REQUIRE(c.host(id).create_group(4, kABC, c.now).ok());
  for (int i = 0; i < 60; ++i) REQUIRE(c.put(4, "k" + std::to_string(i), "v", 2000 + i).status.ok());
  c.run(100ms);
  const NodeId l = *c.leader(4);
  REQUIRE(c.host(l).status(4)->snapshot.index > 1);  // compacted: d needs the snapshot
  REQUIRE(c.host("d").create_group(4, {}, c.now).ok());
  REQUIRE(c.host(l).add_member(4, "d", /*voter=*/true, c.now).ok());
  bool promoted = false;
  for (int i = 0; i < 3000 && !promoted; ++i) {
    c.turn();
    auto s = c.host(*c.leader(4)).status(4);
    promoted = s.ok() && s->core.config.is_voter("d");
  }
  REQUIRE(promoted);
  c.run(100ms);
  CHECK(c.get("d", 4, "k59") == "v");
  CHECK(c.host("d").counters().snapshots_installed >= 1);

  const NodeId leader = *c.leader(4);
  const NodeId victim = leader == "a" ? "b" : "a";
  REQUIRE(c.host(leader).remove_member(4, victim, c.now).ok());
  c.run(200ms);
  CHECK_FALSE(c.host(*c.leader(4)).status(4)->core.config.contains(victim));
  REQUIRE(c.host(victim).delete_group(4).ok());
  CHECK_FALSE(c.host(victim).has_group(4));
  c.run(50ms);
  c.open(victim);
  CHECK_FALSE(c.host(victim).has_group(4));  // the deletion was durable
  REQUIRE(c.put(4, "still", "works", 9000).status.ok());
}

TEST_CASE("host_write_on_a_follower_names_the_leader", "[raft][host]") {
  Cluster c(kABC);
  for (const auto& id : kABC) REQUIRE(c.host(id).create_group(5, kABC, c.now).ok());
  REQUIRE(c.wait_leader(5));
  c.run(50ms);
  const NodeId l = *c.leader(5);
  const NodeId f = l == "a" ? "b" : "a";
  c.host(f).propose(5, KvStateMachine::put_command("x", as_bytes("y")), 77, c.now);
  c.flush_all();
  auto done = c.completion(f, 77);
  REQUIRE(done);
  CHECK(done->status.code() == Status::Code::unavailable);
  CHECK(done->leader == l);
  // Creating the same group twice, or a group without this node, is refused.
  CHECK(c.host("a").create_group(5, kABC, c.now).code() == Status::Code::already_exists);
  CHECK(c.host("a").create_group(6, {"b", "c"}, c.now).code() == Status::Code::invalid_argument);
}

}  // namespace
}  // namespace shoal::raft
