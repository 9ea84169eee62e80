// Issue 8, point 1, end to end: the node that runs an app's leader and some of its
// instances dies (agent and instances, kill -9); the app elects another leader, which puts
// the formation back on the survivors, serving. The node restarts with its old data dir
// and runs nothing twice; it gets its share back by rebalancing, one move at a time.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "tests/integration/apps_cluster.h"

namespace shoal::test {
namespace {

// Instance id -> how many processes of the cluster run it.
std::map<std::string, int> processes_by_id(const AppsCluster& c, const std::string& app) {
  std::map<std::string, int> out;
  for (const auto& p : instance_processes(app, c.data_dirs())) ++out[p.substr(0, p.find('@'))];
  return out;
}

std::string leader_of(AgentProcess& via, const std::string& app) {
  auto r = via.client(5s).call("GET", "/v1/apps/" + app);
  return r.ok() ? r->value("leader", "") : "";
}

TEST_CASE("apps: kill -9 of the node running the app's leader, the formation comes back on "
          "the others, and the node restarts without running anything twice",
          "[integration][apps][failover]") {
  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];
  {
    auto dep = c.cli(n0, {"deploy", static_example().string(), "--app", "fo"});
    INFO(dep.out << dep.err);
    REQUIRE(dep.exit_code == 0);
  }
  REQUIRE(c.cli(n0, {"scale", "fo", "web=3"}).exit_code == 0);
  REQUIRE(wait_for(30s, [&] { return running(c.ps(n0, "fo")).size() == 3; }));

  const std::string leader = leader_of(n0, "fo");
  AgentProcess* victim = c.by_name(leader);
  REQUIRE(victim != nullptr);
  std::set<std::string> on_victim;
  for (const auto& i : running(c.ps(n0, "fo"))) {
    if (i.value("node", "") == leader) on_victim.insert(i.value("id", ""));
  }
  REQUIRE(!on_victim.empty());  // spread over 3 nodes: the leader's node runs one
  AgentProcess* survivor = c.agents[0].get() == victim ? c.agents[1].get() : c.agents[0].get();

  kill_node(*victim);

  // A new leader on a survivor; 3 instances running there, none on the victim, all serving.
  bool back = wait_for(60s, [&] {
    const std::string l = leader_of(*survivor, "fo");
    if (l.empty() || l == leader) return false;
    const auto up = running(c.ps(*survivor, "fo"));
    if (up.size() != 3) return false;
    for (const auto& i : up) {
      if (i.value("node", "") == leader || on_victim.count(i.value("id", ""))) return false;
    }
    return true;
  });
  INFO(c.ps(*survivor, "fo").dump());
  REQUIRE(back);
  for (const auto& i : running(c.ps(*survivor, "fo"))) {
    auto r = get_port(i.value("port", 0));
    REQUIRE(r.ok());
    CHECK(r->status == 200);
  }
  CHECK(processes_by_id(c, "fo").size() == 3);

  // The node comes back with its old data dir: the instances it ran were replaced, so it
  // starts none of them again; rebalancing then moves one instance to it (a new id).
  victim->restart();
  REQUIRE(victim->wait_healthy(30s));
  bool rebalanced = false;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& [id, n] : processes_by_id(c, "fo")) {
      INFO(id);
      REQUIRE(n == 1);                 // no id runs twice
      REQUIRE(!on_victim.count(id));   // what was replaced never runs again
    }
    std::map<std::string, int> per_node;
    const auto up = running(c.ps(*survivor, "fo"));
    for (const auto& i : up) ++per_node[i.value("node", "")];
    if (up.size() == 3 && per_node.size() == 3 && processes_by_id(c, "fo").size() == 3) {
      rebalanced = true;
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  INFO(c.ps(*survivor, "fo").dump() << victim->log());
  CHECK(rebalanced);
  bool logged = false;
  for (auto& a : c.agents) {
    if (a->running() && a->log().find("instance-moving app=fo") != std::string::npos) logged = true;
  }
  CHECK(logged);
}

}  // namespace
}  // namespace shoal::test
