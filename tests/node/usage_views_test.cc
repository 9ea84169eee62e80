// Tests of node/usage_views and cli/top_render: the cluster-wide views merged from each
// node's answer, and the tables `shoal top` and `shoal nodes` print from them.
#include "node/usage_views.h"

#include <catch2/catch.hpp>

#include "cli/top_render.h"

using namespace shoal;
using namespace shoal::node;
using nlohmann::json;

namespace {

gossip::Member member(std::string name, gossip::MemberStatus status, bool shoal = true) {
  gossip::Member m;
  m.name = std::move(name);
  m.status = status;
  m.addr = *gossip::Address::parse("127.0.0.1:7946", 7946);
  if (shoal) m.tags = {{"http", "8080"}, {"rpc", "7947"}};
  return m;
}

json instance(const std::string& app, const std::string& id, const std::string& node,
              const std::string& state, double cpu_millis, int64_t memory, int restarts = 0) {
  return {{"app", app},     {"id", id},         {"node", node},
          {"state", state}, {"restarts", restarts},
          {"usage", {{"cpu_millis", cpu_millis}, {"cpu_percent", cpu_millis / 2}, {"memory_bytes", memory}}}};
}

json node_answer(const std::string& node, std::vector<json> instances, json roles = json::object()) {
  return {{"node", node},
          {"instances", std::move(instances)},
          {"usage", {{"cores", 2}, {"memory_total_bytes", 8 << 20}, {"memory_used_bytes", 2 << 20},
                     {"cpu_percent", 12.5}, {"agent_rss_bytes", 1 << 20}}},
          {"roles", std::move(roles)}};
}

}  // namespace

TEST_CASE("usage views: nodes merge gossip with each node's own answer, naming the silent",
          "[node][usage]") {
  NodeAnswers answers;
  answers.emplace("a", node_answer("a", {instance("blog", "web.1", "a", "running", 100, 1000)},
                                   {{"catalog", "leader"}, {"app_leader", {"blog"}}}));
  answers.emplace("b", Result<json>(Status::unavailable("connection refused")));
  const json v = nodes_view({member("b", gossip::MemberStatus::alive),
                             member("a", gossip::MemberStatus::alive),
                             member("c", gossip::MemberStatus::failed),
                             member("serf1", gossip::MemberStatus::alive, false)},
                            answers);
  const json& nodes = v["nodes"];
  REQUIRE(nodes.size() == 4);
  CHECK(nodes[0]["name"] == "a");  // sorted by name
  CHECK(nodes[0]["capacity"]["cores"] == 2);
  CHECK(nodes[0]["instances"]["total"] == 1);
  CHECK(nodes[0]["instances"]["by_state"]["running"] == 1);
  CHECK(nodes[0]["roles"]["catalog"] == "leader");
  CHECK(nodes[1]["error"] == "connection refused");
  CHECK(nodes[2]["status"] == "failed");
  CHECK(nodes[2]["shoal"] == true);
  CHECK_FALSE(nodes[2].contains("usage"));
  CHECK(nodes[3]["shoal"] == false);

  const std::string table = cli::render_nodes_table(v);
  CHECK_THAT(table, Catch::Contains("12.5% of 2 cores") && Catch::Contains("2.00 MiB / 8.00 MiB") &&
                        Catch::Contains("catalog leader, leads blog") &&
                        Catch::Contains("connection refused") && Catch::Contains("(not Shoal)"));
}

TEST_CASE("usage views: apps total their instances from every node", "[node][usage]") {
  NodeAnswers answers;
  answers.emplace("a", node_answer("a", {instance("blog", "web.1", "a", "running", 100, 1000),
                                         instance("shop", "web.1", "a", "backoff", 0, 0, 3)}));
  answers.emplace("b", node_answer("b", {instance("blog", "web.2", "b", "running", 50, 500)}));
  answers.emplace("c", Result<json>(Status::timeout("no answer in 3s")));

  const json blog = app_usage_view("blog", answers);
  CHECK(blog["instances"].size() == 2);
  CHECK(blog["totals"]["running"] == 2);
  CHECK(blog["totals"]["cpu_millis"] == Approx(150));
  CHECK(blog["totals"]["memory_bytes"] == 1500);
  REQUIRE(blog["unreachable"].size() == 1);
  CHECK(blog["unreachable"][0]["node"] == "c");

  const json all = apps_usage_view(answers);
  REQUIRE(all["apps"].size() == 2);
  CHECK(all["apps"][1]["app"] == "shop");
  CHECK(all["apps"][1]["restarts"] == 3);
  CHECK(all["apps"][1]["running"] == 0);
  CHECK(all["instances"].size() == 3);

  const std::string text = cli::render_usage_tables(all);
  CHECK_THAT(text, Catch::Contains("blog") && Catch::Contains("15.0%") &&
                       Catch::Contains("backoff") && Catch::Contains("node c did not answer"));
  CHECK_THAT(cli::render_usage_tables(apps_usage_view({})), Catch::Contains("No instances"));
}
