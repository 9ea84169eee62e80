// The Serf snapshot with real agents: a restart without --join finds the old cluster, a
// graceful leave is remembered, --rejoin-after-leave overrides that, and a damaged snapshot
// stops the agent with an error naming the file.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::test;

namespace {

std::map<std::string, std::string> statuses(AgentProcess& agent) {
  std::map<std::string, std::string> out;
  auto r = agent.client(5s).call("GET", "/v1/members");
  if (!r.ok()) return out;
  for (const auto& m : (*r)["members"]) {
    out[m["name"].get<std::string>()] = m["status"].get<std::string>();
  }
  return out;
}

template <typename Pred>
bool eventually(AgentProcess& agent, std::chrono::milliseconds timeout, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(statuses(agent))) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

std::string dump(AgentProcess& agent) {
  std::string out = agent.name() + " sees:";
  for (const auto& [n, s] : statuses(agent)) out += " " + n + "=" + s;
  return out + "\n--- log of " + agent.name() + " ---\n" + agent.log();
}

auto sees(const std::string& name, const std::string& status) {
  return [=](const std::map<std::string, std::string>& s) {
    return s.count(name) && s.at(name) == status;
  };
}

// Starts `name` (no --join: it joins `seed` through the API, so a restart has no --join).
std::unique_ptr<AgentProcess> joined(const std::string& name, AgentProcess& seed,
                                     std::vector<std::string> extra = {}) {
  auto p = AgentProcess::start(name, std::move(extra));
  REQUIRE(p->wait_healthy(15s));
  nlohmann::json body = {{"addrs", {seed.gossip_addr()}}};
  auto r = p->client().call("POST", "/v1/join", {}, &body);
  REQUIRE(r.ok());
  INFO(dump(*p));
  REQUIRE(eventually(*p, 15s, sees(seed.name(), "alive")));
  REQUIRE(eventually(seed, 15s, sees(name, "alive")));
  // The snapshot records members as they join; give the agent a moment past that.
  std::this_thread::sleep_for(700ms);
  return p;
}

}  // namespace

TEST_CASE("a node killed with -9 and restarted without --join rejoins from its snapshot",
          "[node][agent][process][snapshot]") {
  auto a = AgentProcess::start("alpha");
  REQUIRE(a->wait_healthy(15s));
  auto b = joined("bravo", *a);
  b->kill9();
  INFO(dump(*a));
  REQUIRE(eventually(*a, 30s, sees("bravo", "failed")));
  b->restart();
  REQUIRE(b->wait_healthy(15s));
  INFO(dump(*b));
  CHECK(eventually(*b, 15s, sees("alpha", "alive")));
  CHECK(eventually(*a, 15s, sees("bravo", "alive")));
  CHECK(b->log().find("snapshot-rejoin-ok") != std::string::npos);
}

TEST_CASE("after a graceful leave a restart does not rejoin, --rejoin-after-leave does",
          "[node][agent][process][snapshot]") {
  auto a = AgentProcess::start("alpha");
  REQUIRE(a->wait_healthy(15s));

  SECTION("default: the leave is remembered") {
    auto b = joined("bravo", *a);
    REQUIRE(b->terminate(20s) == 0);
    REQUIRE(eventually(*a, 20s, sees("bravo", "left")));
    b->restart();
    REQUIRE(b->wait_healthy(15s));
    std::this_thread::sleep_for(3s);  // a rejoin would have happened by now
    INFO(dump(*b));
    CHECK(statuses(*b).size() == 1);
    CHECK(statuses(*a).at("bravo") == "left");
    CHECK(b->log().find("snapshot-no-rejoin") != std::string::npos);
  }

  SECTION("--rejoin-after-leave: the restart rejoins") {
    auto b = joined("bravo", *a, {"--rejoin-after-leave"});
    REQUIRE(b->terminate(20s) == 0);
    REQUIRE(eventually(*a, 20s, sees("bravo", "left")));
    b->restart();
    REQUIRE(b->wait_healthy(15s));
    INFO(dump(*b));
    CHECK(eventually(*b, 15s, sees("alpha", "alive")));
    CHECK(eventually(*a, 15s, sees("bravo", "alive")));
  }
}

TEST_CASE("a damaged snapshot stops the agent with an error naming the file",
          "[node][agent][process][snapshot]") {
  auto a = AgentProcess::start("alpha");
  REQUIRE(a->wait_healthy(15s));
  auto b = joined("bravo", *a);
  b->kill9();
  const auto path = b->data_dir() / "serf.snapshot";
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(f.good());
    f.seekp(8 + 8 + 2);  // magic, first record's header, into its body
    char c = 0;
    f.read(&c, 1);
    f.seekp(8 + 8 + 2);
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  b->restart();
  const auto code = b->wait_for_exit(15s);
  INFO(b->log());
  REQUIRE(code.has_value());
  CHECK(*code != 0);
  CHECK(b->log().find(path.string() + " is corrupt") != std::string::npos);
}
