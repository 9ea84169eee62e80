// NodeIndex and InternPool: the compact member tables behind Memberlist, checked against
// the standard containers they replace.
#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <unordered_set>

#include "base/rng.h"
#include "gossip/intern_pool.h"
#include "gossip/memberlist.h"
#include "gossip/node_index.h"

namespace shoal::gossip {
namespace {

// NodeState's pointers are only Memberlist's to set; the index needs names, so the test
// builds states through a Memberlist-shaped route: a real Memberlist learning members.
class NullDelegate final : public MemberlistDelegate {
 public:
  Bytes node_meta(size_t) override { return {}; }
  void notify_msg(ByteView, TimePoint) override {}
  std::vector<Bytes> get_broadcasts(size_t, size_t, size_t) override { return {}; }
  Bytes local_state(bool) override { return {}; }
  void merge_remote_state(ByteView, bool, TimePoint) override {}
  void notify_join(const NodeState&, TimePoint) override { ++joins; }
  void notify_leave(const NodeState&, TimePoint) override {}
  void notify_update(const NodeState&, TimePoint) override {}
  void notify_conflict(const NodeState&, const NodeState&) override {}
  Bytes ack_payload() override { return {}; }
  void notify_ping_complete(const NodeState&, Duration, ByteView) override {}
  int joins = 0;
};

PushNodeState member(int i) {
  auto addr = *Address::parse("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":7946");
  return PushNodeState{"m" + std::to_string(i), addr.ip_vector(), addr.port, {}, 1,
                       NodeStateType::alive,
                       {kMemberlistProtocolMin, kMemberlistProtocolMax, kMemberlistProtocolCur, 0, 0, 0}};
}

TEST_CASE("NodeIndex finds what was inserted and forgets what was erased", "[gossip][index]") {
  NullDelegate d;
  std::vector<Action> out;
  Memberlist ml(Memberlist::Options{"self", *Address::parse("10.9.9.9:7946")}, &d, &out, Rng(1));
  ml.start(kTimeZero);
  std::vector<PushNodeState> all;
  for (int i = 0; i < 2000; ++i) all.push_back(member(i));
  ml.learn_quietly(all, kTimeZero);
  REQUIRE(ml.num_nodes() == 2001);

  NodeIndex index;
  std::map<std::string, NodeState*> model;
  Rng rng(7);
  for (int step = 0; step < 20000; ++step) {
    NodeState* n = ml.nodes()[rng.uniform(ml.num_nodes())];
    const bool present = model.count(n->name()) > 0;
    if (rng.uniform(3) == 0 && present) {
      index.erase(n->name());
      model.erase(n->name());
    } else if (!present) {
      index.insert(n);
      model[n->name()] = n;
    }
    if (step % 997 == 0) {
      REQUIRE(index.size() == model.size());
      for (const NodeState* m : ml.nodes()) {
        auto it = model.find(m->name());
        REQUIRE(index.find(m->name()) == (it == model.end() ? nullptr : it->second));
      }
    }
  }
  CHECK(index.find("nobody") == nullptr);
}

TEST_CASE("learn_quietly adds members without gossiping them", "[gossip][index]") {
  NullDelegate d;
  std::vector<Action> out;
  auto pool = std::make_shared<InternPool>();
  Memberlist::Options o{"m3", *Address::parse("10.0.0.4:7946")};
  o.pool = pool;
  Memberlist ml(o, &d, &out, Rng(2));
  ml.start(kTimeZero);
  std::vector<PushNodeState> all;
  for (int i = 0; i < 50; ++i) all.push_back(member(i));
  ml.learn_quietly(all, kTimeZero);
  CHECK(ml.num_alive() == 50);  // m3 is in the list once, as ourselves
  CHECK(d.joins == 50);
  // Nothing about the learned members was queued: every packet (probes, and gossip of our
  // own alive from start()) is small, where 49 piggybacked alives would fill 1,400 bytes.
  out.clear();
  for (int ms = 0; ms <= 1000; ms += 100) ml.tick(kTimeZero + std::chrono::milliseconds(ms));
  int packets = 0;
  for (const auto& a : out) {
    if (const auto* p = std::get_if<SendPacket>(&a)) {
      ++packets;
      CHECK(p->data.size() < 150);
    }
  }
  CHECK(packets > 0);
  // The pool holds each name, address and (empty) meta once.
  CHECK(pool->size() == 50 + 50 + 1);
  ml.check_invariants();
}

}  // namespace
}  // namespace shoal::gossip
