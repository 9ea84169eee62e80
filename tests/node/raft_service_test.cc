// RaftService over real TCP on loopback: three in-process hosts, each with its own Raft
// loop thread, LevelDB directory and --rpc listener.
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "node/raft_service.h"
#include "raft/wire.h"
#include "tests/support/process.h"

namespace shoal::node {
namespace {

using namespace std::chrono_literals;
using test::make_temp_dir;

struct Node {
  std::string name;
  std::filesystem::path dir;
  gossip::Address rpc = *gossip::Address::parse("127.0.0.1:0", 0);
  std::unique_ptr<RaftService> svc;
};

struct Trio {
  std::vector<Node> nodes;
  std::filesystem::path root = make_temp_dir("shoal-raft-service");

  Trio() {
    for (const char* n : {"a", "b", "c"}) {
      Node node;
      node.name = n;
      node.dir = root / n;
      nodes.push_back(std::move(node));
    }
    for (auto& n : nodes) start(n);
    wire();
  }
  ~Trio() {
    for (auto& n : nodes) n.svc.reset();
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  void start(Node& n) {
    RaftService::Options o;
    o.self = n.name;
    o.rpc = n.rpc;
    o.dir = n.dir;
    o.config = raft::Config::local();
    o.tick = o.config.heartbeat_interval;
    o.snapshot_every = 50;
    auto s = RaftService::open(o);
    REQUIRE(s.ok());
    n.svc = std::move(*s);
    n.rpc = n.svc->rpc_address();  // keep the port across restarts
  }
  void wire() {
    for (auto& x : nodes) {
      for (auto& y : nodes) {
        if (x.svc) x.svc->set_peer(y.name, y.rpc);
      }
    }
  }
  Node& by_name(const std::string& name) {
    for (auto& n : nodes) {
      if (n.name == name) return n;
    }
    FAIL("no node " << name);
    return nodes[0];
  }
  std::optional<std::string> leader(raft::GroupId g, Duration limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      for (auto& n : nodes) {
        if (!n.svc) continue;
        auto s = n.svc->status(g);
        if (s.ok() && s->core.role == raft::Role::leader) return n.name;
      }
      std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
  }
};

raft::Completion put(RaftService& s, raft::GroupId g, const std::string& k, const std::string& v) {
  std::promise<raft::Completion> p;
  auto f = p.get_future();
  s.put(g, k, to_bytes(v), [&p](const raft::Completion& c) { p.set_value(c); });
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  return f.get();
}

RaftService::ReadResult get(RaftService& s, raft::GroupId g, const std::string& k) {
  std::promise<RaftService::ReadResult> p;
  auto f = p.get_future();
  s.get(g, k, [&p](const RaftService::ReadResult& r) { p.set_value(r); });
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  return f.get();
}

// Writes on whoever leads `g`, retrying across leader changes, until acknowledged.
void put_on_leader(Trio& t, raft::GroupId g, const std::string& k, const std::string& v) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto l = t.leader(g);
    REQUIRE(l);
    auto c = put(*t.by_name(*l).svc, g, k, v);
    if (c.status.ok()) return;
    std::this_thread::sleep_for(20ms);
  }
  FAIL("write of " << k << " never acknowledged");
}

TEST_CASE("raft_service_groups_replicate_over_tcp_and_survive_a_leader_stop", "[raft][service]") {
  Trio t;
  for (raft::GroupId g = 1; g <= 10; ++g) {
    for (auto& n : t.nodes) REQUIRE(n.svc->create(g, {"a", "b", "c"}).ok());
  }
  for (raft::GroupId g = 1; g <= 10; ++g) REQUIRE(t.leader(g));
  for (raft::GroupId g = 1; g <= 10; ++g) put_on_leader(t, g, "k", "v" + std::to_string(g));
  {
    Node& l = t.by_name(*t.leader(3));
    auto r = get(*l.svc, 3, "k");
    REQUIRE(r.status.ok());
    CHECK(std::string(as_string_view(*r.value)) == "v3");
    // A follower refuses reads and names the leader.
    for (auto& n : t.nodes) {
      if (n.name == l.name) continue;
      auto fr = get(*n.svc, 3, "k");
      CHECK(fr.status.code() == Status::Code::unavailable);
      CHECK(fr.leader == l.name);
    }
  }
  // One connection per peer pair, whatever the number of groups.
  for (auto& n : t.nodes) CHECK(n.svc->stats()->connections <= 2);

  // Stop the leader of group 1: the others elect a new one and keep taking writes; writes
  // made while it is away reach it by snapshot when it returns.
  const std::string old = *t.leader(1);
  Node& victim = t.by_name(old);
  victim.svc.reset();
  for (int i = 0; i < 120; ++i) put_on_leader(t, 1, "w" + std::to_string(i), std::to_string(i));
  t.start(victim);
  t.wire();
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  bool caught_up = false;
  while (!caught_up && std::chrono::steady_clock::now() < deadline) {
    auto s = victim.svc->status(1);
    auto l = t.leader(1);
    if (s.ok() && l) {
      auto ls = t.by_name(*l).svc->status(1);
      caught_up = ls.ok() && s->core.applied >= ls->core.commit && s->core.applied > 120;
    }
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(caught_up);
  CHECK(victim.svc->stats()->host.snapshots_installed >= 1);
  auto r = get(*t.by_name(*t.leader(1)).svc, 1, "w119");
  REQUIRE(r.status.ok());
  CHECK(std::string(as_string_view(*r.value)) == "119");
}

TEST_CASE("raft_service_rejects_bad_frames_and_unknown_groups_with_counters", "[raft][service]") {
  Trio t;
  RaftService& a = *t.nodes[0].svc;
  const gossip::Address addr = a.rpc_address();
  auto send_raw = [&](const Bytes& bytes) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(addr.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    std::this_thread::sleep_for(200ms);
    ::close(fd);
  };
  // A first byte that starts neither a Raft frame nor HTTP (a length past the frame limit
  // would start with it: refused before any frame is read), then a hello with the wrong
  // magic.
  send_raw(Bytes{0xff, 0xff, 0xff, 0xff, 1, 2, 3});
  Bytes bad_hello;
  raft::append_frame(bad_hello, Bytes{0x94, 0x00, 0xa1, 'x', 0x01, 0xa1, 'z'});
  send_raw(bad_hello);
  // A good hello, then a heartbeat for a group nobody hosts.
  Bytes stream;
  raft::append_frame(stream, raft::encode_hello({raft::kWireVersion, "intruder"}));
  raft::Heartbeat hb;
  hb.term = 5, hb.from = "intruder", hb.to = "a";
  raft::append_frame(stream, raft::encode_batch({{424242, hb}}));
  raft::append_frame(stream, Bytes{0x92, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff});  // bad batch
  send_raw(stream);
  auto s = a.stats();
  REQUIRE(s.ok());
  CHECK(s->rejected_connections == 2);
  CHECK(s->host.rejected_unknown_group == 1);
  CHECK(s->bad_frames >= 2);  // the bad hello and the bad batch; the junk never was a frame
  CHECK(s->groups == 0);
}

}  // namespace
}  // namespace shoal::node
