// A Shoal-only cluster of 20 real agents on loopback: it converges, detects a kill -9,
// and takes back a node restarted under the same name.
#include <catch2/catch.hpp>

#include "tests/integration/serf_process.h"

namespace shoal::test {
namespace {

constexpr int kAgents = 20;

bool all_alive(const MemberView& v, size_t n) {
  return v.size() == n && std::all_of(v.begin(), v.end(),
                                      [](const auto& m) { return m.second.status == "alive"; });
}

TEST_CASE("20 agents converge, detect a kill -9, and re-admit the restarted node",
          "[integration][cluster]") {
  std::vector<std::unique_ptr<AgentProcess>> agents;
  agents.push_back(AgentProcess::start("node-0", {"--log-level", "info"}));
  REQUIRE(agents[0]->wait_healthy());
  for (int i = 1; i < kAgents; ++i) {
    // Join through a few different seeds, as operators do.
    const auto& seed = agents[static_cast<size_t>(i % 3 == 0 ? 0 : i - 1)];
    agents.push_back(AgentProcess::start("node-" + std::to_string(i),
                                         {"--join", seed->gossip_addr(), "--log-level", "info"}));
  }
  for (auto& a : agents) REQUIRE(a->wait_healthy(30s));

  for (auto& a : agents) {
    CHECK(eventually([&] { return shoal_members(*a); },
                     [](const MemberView& v) { return all_alive(v, kAgents); }, 60s));
  }

  AgentProcess& victim = *agents[7];
  victim.kill9();
  for (auto& a : agents) {
    if (a.get() == &victim) continue;
    CHECK(eventually([&] { return shoal_members(*a); },
                     [](const MemberView& v) { return has_status(v, "node-7", "failed"); }, 60s));
  }

  victim.restart();  // same name, ports and data dir; it rejoins through its --join
  REQUIRE(victim.wait_healthy(30s));
  for (auto& a : agents) {
    CHECK(eventually([&] { return shoal_members(*a); },
                     [](const MemberView& v) { return all_alive(v, kAgents); }, 60s));
  }
}

}  // namespace
}  // namespace shoal::test
