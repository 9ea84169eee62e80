// SerfRpcServer in-process against a fake agent: several streams on one connection, stop,
// respond, a client that stops reading, and stop() while an answer is in flight.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "node/serf_rpc/server.h"
#include "tests/support/process.h"
#include "tests/support/serf_rpc_client.h"

namespace shoal::node {
namespace {

using namespace std::chrono_literals;
using test::RawSerfRpc;
using test::rpc_body;

class FakeAgent : public AgentControl {
 public:
  Result<std::vector<gossip::Member>> members() override { return std::vector<gossip::Member>{}; }
  Result<SelfInfo> self() override { return SelfInfo{}; }
  Result<size_t> num_alive() override { return size_t{1}; }
  Result<std::vector<RecentEvent>> recent_events() override { return std::vector<RecentEvent>{}; }
  Result<JoinOutcome> join(const std::vector<gossip::Address>&, bool) override {
    return JoinOutcome{};
  }
  Status leave() override {
    std::this_thread::sleep_for(300ms);  // an answer that takes a while
    return Status();
  }
  Status force_leave(const std::string&, bool) override { return Status(); }
  Result<std::map<std::string, std::string>> update_tags(const TagUpdate&) override {
    return std::map<std::string, std::string>{};
  }
  Result<QueryStartInfo> query(const std::string&, Bytes, const gossip::QueryParams&,
                               QuerySink sink) override {
    std::lock_guard lock(mu);
    query_sink = std::move(sink);
    return QueryStartInfo{1, 1s};
  }
  Status respond(uint64_t token, Bytes payload) override {
    std::lock_guard lock(mu);
    responded_token = token;
    responded = std::string(as_string_view(payload));
    return Status();
  }
  Result<uint64_t> subscribe(AgentEventSink sink) override {
    std::lock_guard lock(mu);
    sinks[++next] = std::move(sink);
    return next;
  }
  void unsubscribe(uint64_t id) override {
    std::lock_guard lock(mu);
    sinks.erase(id);
  }

  // Delivers `e` to every subscriber as the agent loop would; returns how many kept it.
  size_t publish(const AgentEvent& e) {
    std::lock_guard lock(mu);
    size_t kept = 0;
    for (auto it = sinks.begin(); it != sinks.end();) {
      if (it->second(e)) {
        ++kept;
        ++it;
      } else {
        it = sinks.erase(it);
      }
    }
    return kept;
  }
  size_t subscribers() {
    std::lock_guard lock(mu);
    return sinks.size();
  }

  std::mutex mu;
  std::map<uint64_t, AgentEventSink> sinks;
  uint64_t next = 0;
  QuerySink query_sink;
  uint64_t responded_token = 0;
  std::string responded;
};

AgentEvent user_event(const std::string& name, size_t payload_bytes = 1) {
  AgentEvent e;
  e.kind = AgentEvent::Kind::user;
  e.user.name = name;
  e.user.payload = Bytes(payload_bytes, 'p');
  return e;
}

std::unique_ptr<SerfRpcServer> start(FakeAgent& agent, SerfRpcOptions options = {}) {
  auto addr = gossip::Address::parse("127.0.0.1:" + std::to_string(test::free_loopback_port()));
  auto server = SerfRpcServer::start(*addr, agent, std::move(options));
  REQUIRE(server.ok());
  return std::move(*server);
}

std::unique_ptr<RawSerfRpc> handshake(const SerfRpcServer& server) {
  auto c = RawSerfRpc::connect(server.address().port);
  REQUIRE(c);
  c->request("handshake", 1, rpc_body({}, {{"Version", 1}}));
  auto h = c->read_header();
  REQUIRE(h);
  REQUIRE(h->error.empty());
  return c;
}

// A record's string field.
std::string field(const Bytes& record, std::string_view name) {
  gossip::MsgpackReader r(record);
  std::string out;
  (void)gossip::read_struct(r, "record", [&](std::string_view k) {
    return k == name ? gossip::read_value(r, out) : r.skip();
  });
  return out;
}

TEST_CASE("serf rpc server: streams and a query share one connection under their own seqs",
          "[serf_rpc][server]") {
  FakeAgent agent;
  auto server = start(agent);
  auto c = handshake(*server);
  c->request("stream", 2, rpc_body({{"Type", "user:deploy"}}));
  c->request("stream", 3, rpc_body({{"Type", "query"}}));
  c->request("query", 4, rpc_body({{"Name", "q"}}));
  for (uint64_t seq : {2, 3, 4}) {
    auto h = c->read_header();
    REQUIRE(h);
    CHECK(h->seq == seq);
    CHECK(h->error.empty());
  }
  REQUIRE(agent.subscribers() == 2);

  agent.publish(user_event("other"));   // filtered out by seq 2
  agent.publish(user_event("deploy"));
  AgentEvent q;
  q.kind = AgentEvent::Kind::query;
  q.query.name = "who";
  q.query.token = 77;
  q.query.deadline = steady_now() + 10s;
  agent.publish(q);
  {
    std::lock_guard lock(agent.mu);
    REQUIRE(agent.query_sink);
    agent.query_sink(QueryUpdate{QueryUpdate::Kind::ack, "node-a", {}, 0, 0});
    agent.query_sink(QueryUpdate{QueryUpdate::Kind::response, "node-b", to_bytes("hi"), 0, 0});
    agent.query_sink(QueryUpdate{QueryUpdate::Kind::done, {}, {}, 1, 1});
  }

  std::map<uint64_t, std::vector<Bytes>> records;
  for (int i = 0; i < 5; ++i) {
    auto h = c->read_header();
    REQUIRE(h);
    auto rec = c->read_value();
    REQUIRE(rec);
    records[h->seq].push_back(*rec);
  }
  REQUIRE(records[2].size() == 1);
  CHECK(field(records[2][0], "Name") == "deploy");
  REQUIRE(records[3].size() == 1);
  CHECK(field(records[3][0], "Event") == "query");
  REQUIRE(records[4].size() == 3);
  CHECK(field(records[4][0], "Type") == "ack");
  CHECK(field(records[4][1], "From") == "node-b");
  CHECK(field(records[4][2], "Type") == "done");

  // The client answers the query it was streamed, by the ID it got.
  gossip::MsgpackReader r(records[3][0]);
  uint64_t id = 0;
  (void)gossip::read_struct(r, "record", [&](std::string_view k) {
    return k == "ID" ? gossip::read_value(r, id) : r.skip();
  });
  c->request("respond", 5, rpc_body({{"Payload", "answer"}}, {{"ID", id}}));
  auto answered = c->read_header();
  REQUIRE(answered);
  CHECK(answered->error.empty());
  CHECK(agent.responded_token == 77);
  CHECK(agent.responded == "answer");
  c->request("respond", 6, rpc_body({{"Payload", "x"}}, {{"ID", id + 100}}));
  auto unknown = c->read_header();
  REQUIRE(unknown);
  CHECK(unknown->error == "No pending queries matching ID");

  // stop ends one stream; the other keeps going.
  c->request("stop", 7, rpc_body({}, {{"Stop", 2}}));
  auto stopped = c->read_header();
  REQUIRE(stopped);
  CHECK(stopped->seq == 7);
  for (int i = 0; i < 500 && agent.subscribers() != 1; ++i) std::this_thread::sleep_for(10ms);
  CHECK(agent.subscribers() == 1);
  c->request("stream", 3, rpc_body({{"Type", "*"}}));
  auto dup = c->read_header();
  REQUIRE(dup);
  CHECK(dup->error == "Stream with given sequence exists");
}

TEST_CASE("serf rpc server: a client that stops reading is dropped, not buffered for",
          "[serf_rpc][server]") {
  FakeAgent agent;
  SerfRpcOptions options;
  options.write_queue_limit = 64 * 1024;
  auto server = start(agent, options);
  auto c = handshake(*server);
  c->request("stream", 2, rpc_body({{"Type", "*"}}));
  auto h = c->read_header();
  REQUIRE(h);
  // As serf, the answer goes out before the subscription is made.
  for (int i = 0; i < 500 && agent.subscribers() != 1; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(agent.subscribers() == 1);
  // Never read again: the socket buffers fill, then the queue, then the server lets go.
  bool dropped = false;
  for (int i = 0; i < 5000 && !dropped; ++i) {
    dropped = agent.publish(user_event("flood", 8 * 1024)) == 0;
    if (i % 50 == 0) std::this_thread::sleep_for(1ms);
  }
  CHECK(dropped);
  CHECK(agent.subscribers() == 0);
  CHECK(c->closed_by_peer(10s));
  // The server still serves others.
  auto other = handshake(*server);
  other->request("members", 2);
  auto ok = other->read_header();
  REQUIRE(ok);
  CHECK(ok->error.empty());
}

TEST_CASE("serf rpc server: stop() lets the answer in flight go out", "[serf_rpc][server]") {
  FakeAgent agent;
  auto server = start(agent);
  auto c = handshake(*server);
  c->request("leave", 2);  // the fake takes 300 ms
  std::this_thread::sleep_for(50ms);
  std::thread stopper([&] { server->stop(); });
  auto h = c->read_header(5s);
  stopper.join();
  REQUIRE(h);
  CHECK(h->seq == 2);
  CHECK(h->error.empty());
  CHECK(c->closed_by_peer(5s));
}

}  // namespace
}  // namespace shoal::node
