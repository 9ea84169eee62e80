// User events and queries across real HashiCorp serf agents (Debian's serf 0.9.4) and
// Shoal nodes on loopback: each kind sees the other's events and answers its queries.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "tests/integration/serf_process.h"

namespace shoal::test {
namespace {

constexpr auto kConverge = 20s;
constexpr auto kDeliver = 15s;  // serf's agent coalesces user events (up to 3 s); ASan slack

// A serf event handler that appends "EVENT NAME PAYLOAD" lines to `out`, and answers
// queries with "pong from NODE".
std::filesystem::path write_handler(const std::filesystem::path& dir,
                                    const std::filesystem::path& out) {
  const auto path = dir / "handler.sh";
  std::ofstream f(path);
  f << "#!/bin/sh\n"
    << "payload=$(cat)\n"
    << "if [ \"$SERF_EVENT\" = query ]; then\n"
    << "  echo \"query $SERF_QUERY_NAME $payload\" >> " << out.string() << "\n"
    << "  printf 'pong from %s' \"$SERF_SELF_NAME\"\n"
    << "else\n"
    << "  echo \"$SERF_EVENT $SERF_USER_EVENT $payload\" >> " << out.string() << "\n"
    << "fi\n";
  f.close();
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

struct MixedCluster {
  std::filesystem::path dir = make_temp_dir("serf-events");
  std::filesystem::path seen = dir / "seen.txt";
  std::unique_ptr<SerfProcess> serf;
  std::unique_ptr<AgentProcess> a, b;

  MixedCluster() {
    const auto handler = write_handler(dir, seen);
    serf = SerfProcess::start("serf-ev", {"-event-handler", handler.string()});
    REQUIRE(serf->wait_ready());
    a = AgentProcess::start("shoal-ev-a", {"--join", serf->gossip_addr()});
    REQUIRE(a->wait_healthy());
    b = AgentProcess::start("shoal-ev-b", {"--join", a->gossip_addr()});
    REQUIRE(b->wait_healthy());
    REQUIRE(eventually([&] { return serf->members(); },
                       [](const MemberView& v) {
                         return has_status(v, "shoal-ev-a", "alive") &&
                                has_status(v, "shoal-ev-b", "alive");
                       },
                       kConverge));
  }
  ~MixedCluster() {
    if (std::getenv("SHOAL_KEEP_TEST_DIRS") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
  std::string handled() const { return read_file(seen); }
};

bool log_has(const AgentProcess& p, const std::string& needle) {
  return p.log().find(needle) != std::string::npos;
}

TEST_CASE("a serf user event reaches shoal nodes and a shoal event reaches serf",
          "[integration][serf][events]") {
  MixedCluster c;
  auto sent = c.serf->cli("event", {"from-serf", "hello-shoal"});
  REQUIRE(sent.exit_code == 0);
  for (auto* agent : {c.a.get(), c.b.get()}) {
    CHECK(eventually([&] { return log_has(*agent, "user-event name=from-serf"); },
                     [](bool yes) { return yes; }, kDeliver));
  }
  CHECK(log_has(*c.b, "payload=\"hello-shoal\""));

  auto r = c.b->client().send("POST", "/v1/event/from-shoal", "hello-serf",
                              "application/octet-stream");
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(eventually([&] { return c.handled(); },
                   [](const std::string& s) {
                     return s.find("user from-shoal hello-serf") != std::string::npos;
                   },
                   kDeliver));
  // An event over the size limit is refused by the node that was asked.
  auto big = c.a->client().send("POST", "/v1/event/big", std::string(600, 'x'),
                                "application/octet-stream");
  REQUIRE(big.ok());
  CHECK(big->status == 400);
}

// The serf CLI refuses to send internal (_serf_*) queries itself; _serf_ping's answer is
// checked in tests/gossip/queries_test.cc.
TEST_CASE("serf queries get acks from shoal nodes", "[integration][serf][queries]") {
  MixedCluster c;
  for (const std::string name : {"hello", "second"}) {
    auto r = c.serf->cli("query", {"-format=json", "-timeout=3s", name, "x"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE(doc.is_object());
    std::set<std::string> acks;
    for (const auto& ack : doc["Acks"]) acks.insert(ack.get<std::string>());
    CHECK(acks.count("shoal-ev-a") == 1);
    CHECK(acks.count("shoal-ev-b") == 1);
    CHECK(acks.count("serf-ev") == 1);
  }
}

TEST_CASE("a shoal query streams acks and responses from serf agents",
          "[integration][serf][queries]") {
  MixedCluster c;
  std::vector<nlohmann::json> lines;
  std::string pending;
  auto r = c.a->client(20s).stream(
      "POST", "/v1/query/ping-all?timeout=3s", "are-you-there", "application/octet-stream",
      [&](std::string_view chunk) {
        pending.append(chunk);
        for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
          lines.push_back(nlohmann::json::parse(pending.substr(0, nl), nullptr, false));
          pending.erase(0, nl + 1);
        }
        return true;
      });
  REQUIRE(r.ok());
  REQUIRE(r->status == 200);
  REQUIRE(lines.size() >= 2);
  CHECK(lines.front()["type"] == "start");
  CHECK(lines.back()["type"] == "done");
  std::set<std::string> acks;
  std::map<std::string, std::string> responses;
  for (const auto& l : lines) {
    if (l["type"] == "ack") acks.insert(l["from"].get<std::string>());
    if (l["type"] == "response") responses[l["from"]] = l.value("payload", "");
  }
  CHECK(acks == std::set<std::string>{"serf-ev", "shoal-ev-a", "shoal-ev-b"});
  CHECK(responses["serf-ev"] == "pong from serf-ev");
  CHECK(c.handled().find("query ping-all are-you-there") != std::string::npos);

  SECTION("the CLI prints them as a table") {
    auto out = run_command({"--addr", c.b->http_url(), "query", "ping-all", "x", "--timeout", "2s",
                            "--node", "serf-ev"});
    INFO(out.out << out.err);
    CHECK(out.exit_code == 0);
    CHECK(out.out.find("Ack from 'serf-ev'") != std::string::npos);
    CHECK(out.out.find("Response from 'serf-ev': pong from serf-ev") != std::string::npos);
    CHECK(out.out.find("Ack from 'shoal-ev-a'") == std::string::npos);  // filtered out
  }
}

}  // namespace
}  // namespace shoal::test
