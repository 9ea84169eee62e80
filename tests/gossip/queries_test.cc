// Serf's queries, driven in memory under virtual time: acks and responses back to the
// source, filters, limits, deadlines, relays, de-duplication, and the internal queries.
#include <catch2/catch.hpp>

#include "gossip/wire.h"
#include "tests/gossip/local_cluster.h"

namespace shoal::gossip {
namespace {

using namespace std::chrono_literals;
using test::LocalCluster;

std::string node(size_t i) { return "n" + std::to_string(i); }

LocalCluster converged(size_t n, uint64_t seed) {
  LocalCluster c(seed);
  for (size_t i = 0; i < n; ++i) c.add(node(i), {{"role", i % 2 == 0 ? "web" : "db"}});
  for (size_t i = 1; i < n; ++i) c.join(node(i), "n0");
  c.run_for(5s);
  return c;
}

// Everyone answers with its own name.
void answer_with_names(LocalCluster& c, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    c.answer_queries(node(i), [name = node(i)](const QueryReceived&) {
      return std::optional<Bytes>(to_bytes(name));
    });
  }
}

struct Progress {
  std::set<std::string> acks;
  std::map<std::string, Bytes> responses;
  std::optional<QueryFinished> finished;
};

Progress progress(LocalCluster& c, const std::string& source, LamportTime q) {
  Progress p;
  for (const auto& a : c.query_progress(source)) {
    if (auto* ack = std::get_if<QueryAckReceived>(&a); ack && ack->query == q) p.acks.insert(ack->from);
    if (auto* r = std::get_if<QueryResponseReceived>(&a); r && r->query == q) {
      CHECK(p.responses.count(r->from) == 0);  // each node once
      p.responses[r->from] = r->payload;
    }
    if (auto* f = std::get_if<QueryFinished>(&a); f && f->query == q) p.finished = *f;
  }
  return p;
}

TEST_CASE("a query gets an ack and a response from every member", "[gossip][queries]") {
  auto c = converged(6, 21);
  answer_with_names(c, 6);
  QueryParams params;
  params.request_ack = true;
  auto q = c.serf("n2").query("whoami", to_bytes("?"), params, c.now());
  REQUIRE(q.ok());
  c.drain("n2");
  c.run_for(500ms);
  auto p = progress(c, "n2", q->query);
  CHECK(p.acks.size() == 6);
  REQUIRE(p.responses.size() == 6);
  CHECK(p.responses.at("n4") == to_bytes("n4"));
  CHECK_FALSE(p.finished);
  c.run_for(5s);
  p = progress(c, "n2", q->query);
  REQUIRE(p.finished);
  CHECK(p.finished->acks == 6);
  CHECK(p.finished->responses == 6);
  for (size_t i = 0; i < 6; ++i) {
    REQUIRE(c.queries(node(i)).size() == 1);
    CHECK(c.queries(node(i))[0].name == "whoami");
    CHECK(c.queries(node(i))[0].source_node == "n2");
  }
}

TEST_CASE("the default query timeout scales with log10 of the cluster size", "[gossip][queries]") {
  auto c = converged(6, 22);
  // local profile: 100 ms gossip * 16 * ceil(log10(7)) = 1.6 s
  CHECK(c.serf("n0").default_query_timeout() == 1600ms);
  auto q = c.serf("n0").query("t", {}, QueryParams{}, c.now());
  REQUIRE(q.ok());
  CHECK(q->deadline == c.now() + 1600ms);
  c.drain("n0");
  c.run_for(1500ms);
  CHECK_FALSE(progress(c, "n0", q->query).finished);
  c.run_for(200ms);
  CHECK(progress(c, "n0", q->query).finished);
}

TEST_CASE("a response after the deadline is refused", "[gossip][queries]") {
  auto c = converged(3, 23);
  QueryParams params;
  params.timeout = 1s;
  auto q = c.serf("n0").query("slow", {}, params, c.now());
  REQUIRE(q.ok());
  c.drain("n0");
  c.run_for(2s);
  REQUIRE(c.queries("n1").size() == 1);
  const Status s = c.serf("n1").respond(c.queries("n1")[0].token, to_bytes("late"), c.now());
  CHECK_FALSE(s.ok());
  CHECK(progress(c, "n0", q->query).responses.empty());
}

TEST_CASE("a node answers a query at most once", "[gossip][queries]") {
  auto c = converged(3, 24);
  auto q = c.serf("n0").query("once", {}, QueryParams{}, c.now());
  REQUIRE(q.ok());
  c.drain("n0");
  c.run_for(300ms);
  REQUIRE(c.queries("n1").size() == 1);
  const uint64_t token = c.queries("n1")[0].token;
  CHECK(c.serf("n1").respond(token, to_bytes("a"), c.now()).ok());
  CHECK(c.serf("n1").respond(token, to_bytes("b"), c.now()).code() == Status::Code::not_found);
  c.drain("n1");
  c.run_for(300ms);
  auto p = progress(c, "n0", q->query);
  REQUIRE(p.responses.size() == 1);
  CHECK(p.responses.at("n1") == to_bytes("a"));
}

TEST_CASE("node and tag filters choose who answers, all still pass the query on",
          "[gossip][queries]") {
  auto c = converged(6, 25);
  answer_with_names(c, 6);
  QueryParams params;
  params.request_ack = true;
  params.filter_nodes = {"n1", "n2", "n3"};
  params.filter_tags = {{"role", "^d.$"}};  // n1, n3, n5 are db
  auto q = c.serf("n0").query("filtered", {}, params, c.now());
  REQUIRE(q.ok());
  c.drain("n0");
  c.run_for(3s);
  auto p = progress(c, "n0", q->query);
  CHECK(p.acks == std::set<std::string>{"n1", "n3"});
  CHECK(p.responses.size() == 2);
  for (size_t i = 0; i < 6; ++i) {
    CHECK(c.queries(node(i)).size() == (i == 1 || i == 3 ? 1u : 0u));
    CHECK(c.serf(node(i)).stats().queries == 1);  // everyone saw it
  }
}

TEST_CASE("a bad tag regex, an oversize query or response is refused with a clear error",
          "[gossip][queries]") {
  auto c = converged(2, 26);
  QueryParams bad;
  bad.filter_tags = {{"role", "(unclosed"}};
  auto q = c.serf("n0").query("x", {}, bad, c.now());
  REQUIRE_FALSE(q.ok());
  CHECK(q.status().code() == Status::Code::invalid_argument);
  CHECK(q.status().message().find("role") != std::string::npos);

  auto big = c.serf("n0").query("x", Bytes(2000, 'p'), QueryParams{}, c.now());
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().message().find("limit is 1024") != std::string::npos);
  c.drain("n0");
  c.run_for(1s);
  CHECK(c.queries("n1").empty());

  auto ok = c.serf("n0").query("x", {}, QueryParams{}, c.now());
  REQUIRE(ok.ok());
  c.drain("n0");
  c.run_for(300ms);
  REQUIRE(c.queries("n1").size() == 1);
  const auto& rq = c.queries("n1")[0];
  CHECK(rq.max_payload > 900);
  CHECK(c.serf("n1").respond(rq.token, Bytes(rq.max_payload + 1, 'r'), c.now()).code() ==
        Status::Code::invalid_argument);
  CHECK(c.serf("n1").respond(rq.token, Bytes(rq.max_payload, 'r'), c.now()).ok());
}

TEST_CASE("a relay factor carries a response past a cut link", "[gossip][queries]") {
  auto c = converged(5, 27);
  answer_with_names(c, 5);
  c.cut("n0", "n4");
  QueryParams params;
  params.request_ack = true;
  params.relay_factor = 2;
  auto q = c.serf("n0").query("relayed", {}, params, c.now());
  REQUIRE(q.ok());
  c.drain("n0");
  c.run_for(500ms);
  auto p = progress(c, "n0", q->query);
  CHECK(p.acks.count("n4") == 1);
  CHECK(p.responses.count("n4") == 1);
  CHECK(p.responses.size() == 5);

  SECTION("without relays the cut node's answer is lost") {
    params.relay_factor = 0;
    auto q2 = c.serf("n0").query("direct", {}, params, c.now());
    REQUIRE(q2.ok());
    c.drain("n0");
    c.run_for(500ms);
    auto p2 = progress(c, "n0", q2->query);
    CHECK(p2.responses.count("n4") == 0);
    CHECK(p2.responses.size() == 4);
  }
}

TEST_CASE("the same query delivered twice is handled once", "[gossip][queries]") {
  auto c = converged(2, 28);
  SerfQuery q;
  q.ltime = 7;
  q.id = 99;
  q.addr = c.addr("n0").ip_vector();
  q.port = c.addr("n0").port;
  q.source_node = "n0";
  q.timeout_ns = 1'000'000'000;
  q.name = "dup";
  Bytes pkt{static_cast<uint8_t>(MessageType::user)};
  const Bytes body = encode_serf(q);
  pkt.insert(pkt.end(), body.begin(), body.end());
  c.serf("n1").handle_packet(c.addr("n0"), pkt, c.now());
  c.serf("n1").handle_packet(c.addr("n0"), pkt, c.now());
  c.drain("n1");
  CHECK(c.queries("n1").size() == 1);
  CHECK(c.serf("n1").stats().query_ltime == 8);
}

TEST_CASE("_serf_ping is acked by every member and never reaches the shell",
          "[gossip][queries][internal]") {
  auto c = converged(4, 29);
  QueryParams params;
  params.request_ack = true;
  auto q = c.serf("n1").query(std::string(kPingQuery), {}, params, c.now());
  REQUIRE(q.ok());
  c.drain("n1");
  c.run_for(3s);
  auto p = progress(c, "n1", q->query);
  CHECK(p.acks.size() == 4);
  CHECK(p.responses.empty());
  for (size_t i = 0; i < 4; ++i) CHECK(c.queries(node(i)).empty());
}

TEST_CASE("_serf_conflict is answered with the member as each node knows it",
          "[gossip][queries][internal]") {
  auto c = converged(4, 30);
  auto q = c.serf("n0").query(std::string(kConflictQuery), to_bytes("n2"), QueryParams{}, c.now());
  REQUIRE(q.ok());
  c.drain("n0");
  c.run_for(3s);
  auto p = progress(c, "n0", q->query);
  // n2 is the subject: it does not judge its own case.
  CHECK(p.responses.size() == 3);
  CHECK(p.responses.count("n2") == 0);
  for (const auto& [from, payload] : p.responses) {
    auto m = decode_serf_conflict_member(payload);
    REQUIRE(m.ok());
    REQUIRE(m->has_value());
    CHECK((*m)->name == "n2");
    CHECK(Address::from_bytes((*m)->addr, (*m)->port).value() == c.addr("n2"));
    CHECK((*m)->status == 1);
  }
}

TEST_CASE("a registered internal query handler answers inside the core",
          "[gossip][queries][internal]") {
  auto c = converged(3, 31);
  for (size_t i = 0; i < 3; ++i) {
    c.serf(node(i)).set_internal_query_handler(
        "_serf_echo", [name = node(i)](const QueryReceived& q, TimePoint) {
          Bytes out = to_bytes(name + ":");
          out.insert(out.end(), q.payload.begin(), q.payload.end());
          return std::optional<Bytes>(out);
        });
  }
  auto q = c.serf("n0").query("_serf_echo", to_bytes("hi"), QueryParams{}, c.now());
  REQUIRE(q.ok());
  c.drain("n0");
  c.run_for(2s);
  auto p = progress(c, "n0", q->query);
  REQUIRE(p.responses.size() == 3);
  CHECK(p.responses.at("n1") == to_bytes("n1:hi"));
  for (size_t i = 0; i < 3; ++i) CHECK(c.queries(node(i)).empty());

  // An internal query nobody handles gets no answer and is not handed to the shell.
  auto q2 = c.serf("n0").query("_serf_nobody", {}, QueryParams{}, c.now());
  REQUIRE(q2.ok());
  c.drain("n0");
  c.run_for(2s);
  CHECK(progress(c, "n0", q2->query).responses.empty());
  for (size_t i = 0; i < 3; ++i) CHECK(c.queries(node(i)).empty());
}

}  // namespace
}  // namespace shoal::gossip
