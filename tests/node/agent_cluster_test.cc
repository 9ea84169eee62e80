// Three real agents on loopback: they find each other through --join and the API shows it;
// a graceful stop (SIGTERM) shows as `left` on the others, a kill -9 as `failed`.
#include <catch2/catch.hpp>

#include <map>

#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::test;

namespace {

// name -> status, as `agent` sees the cluster (empty on error).
std::map<std::string, std::string> statuses(AgentProcess& agent) {
  std::map<std::string, std::string> out;
  auto r = agent.client(5s).call("GET", "/v1/members");
  if (!r.ok()) return out;
  for (const auto& m : (*r)["members"]) {
    out[m["name"].get<std::string>()] = m["status"].get<std::string>();
  }
  return out;
}

// Polls until pred(statuses(agent)) holds, at most `timeout`.
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

}  // namespace

TEST_CASE("three agents join, list each other alive, and see a leave and a failure",
          "[node][agent][process][cluster]") {
  auto a = AgentProcess::start("alpha", {"--tag", "role=web"});
  REQUIRE(a->wait_healthy(15s));
  auto b = AgentProcess::start("bravo", {"--join", a->gossip_addr()});
  auto c = AgentProcess::start("charlie", {"--join", a->gossip_addr(), "--tag", "role=db"});
  REQUIRE(b->wait_healthy(15s));
  REQUIRE(c->wait_healthy(15s));

  const std::map<std::string, std::string> all_alive = {
      {"alpha", "alive"}, {"bravo", "alive"}, {"charlie", "alive"}};
  for (auto* agent : {a.get(), b.get(), c.get()}) {
    INFO(dump(*agent));
    CHECK(eventually(*agent, 20s, [&](const auto& s) { return s == all_alive; }));
  }
  // Tags travel with the members.
  auto on_b = b->client().call("GET", "/v1/members", {{"tag", "role=db"}});
  REQUIRE(on_b.ok());
  REQUIRE((*on_b)["members"].size() == 1);
  CHECK((*on_b)["members"][0]["name"] == "charlie");

  SECTION("SIGTERM: the others see it as left") {
    REQUIRE(c->terminate(20s) == 0);
    for (auto* agent : {a.get(), b.get()}) {
      INFO(dump(*agent));
      CHECK(eventually(*agent, 20s, [](const auto& s) {
        return s.count("charlie") && s.at("charlie") == "left";
      }));
    }
    auto health = a->client().call("GET", "/v1/health");
    REQUIRE(health.ok());
    CHECK((*health)["members_alive"] == 2);
  }

  SECTION("kill -9: the others see it as failed; restarted, it is alive again") {
    c->kill9();
    for (auto* agent : {a.get(), b.get()}) {
      INFO(dump(*agent));
      CHECK(eventually(*agent, 30s, [](const auto& s) {
        return s.count("charlie") && s.at("charlie") == "failed";
      }));
    }
    c->restart();
    REQUIRE(c->wait_healthy(15s));
    for (auto* agent : {a.get(), b.get(), c.get()}) {
      INFO(dump(*agent));
      CHECK(eventually(*agent, 30s, [&](const auto& s) { return s == all_alive; }));
    }
  }
}
