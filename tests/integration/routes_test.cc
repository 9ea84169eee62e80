// Issue 9, the routing mesh's control plane end to end: a 3-node cluster on loopback, an app
// with a web process; every node's route table (GET /v1/routes) follows the app's running
// web instances as they start and as the app is scaled down, and custom domains added with
// `shoal domains add` reach every node.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include "tests/integration/apps_cluster.h"
#include "tests/support/process.h"

namespace shoal::test {
namespace {

// "web.1@n0 127.0.0.1:20001" for each running, desired web instance in `ps`.
std::set<std::string> expected_backends(const json& ps) {
  std::set<std::string> out;
  for (const auto& i : running(ps)) {
    if (i.value("type", "") != "web") continue;
    const std::string health = i.value("health", "none");
    if (health != "none" && health != "healthy") continue;
    out.insert(i.value("id", "") + "@" + i.value("node", "") + " 127.0.0.1:" +
               std::to_string(i.value("port", 0)));
  }
  return out;
}

std::set<std::string> backends_of(const json& routes) {
  std::set<std::string> out;
  if (!routes.is_object()) return out;
  const json list = routes.value("backends", json::array());
  for (const auto& b : list) {
    out.insert(b.value("instance", "") + "@" + b.value("node", "") + " " + b.value("host", "") +
               ":" + std::to_string(b.value("port", 0)));
  }
  return out;
}

// True once every node's routes for `app` list exactly `want` (and, if given, `domains`).
bool every_node_routes(AppsCluster& c, const std::string& app, const std::set<std::string>& want,
                       const std::optional<json>& domains = std::nullopt) {
  for (auto& a : c.agents) {
    const json r = app_routes(*a, app);
    if (r.is_null() || backends_of(r) != want) return false;
    if (domains && r.value("domains", json::array()) != *domains) return false;
  }
  return true;
}

std::string describe_routes(AppsCluster& c) {
  std::string out;
  for (auto& a : c.agents) {
    auto r = a->client(3s).call("GET", "/v1/routes");
    out += a->name() + ": " + (r.ok() ? r->dump() : r.status().message()) + "\n";
  }
  return out;
}

TEST_CASE("routes: every node routes to the app's running web instances, follows a scale "
          "down, and learns custom domains",
          "[integration][routes]") {
  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];
  AgentProcess& n2 = *c.agents[2];

  auto dep = c.cli(n0, {"deploy", (source_dir() / "examples/python-web").string(), "--app", "rsweb"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  REQUIRE(wait_for(30s, [&] { return expected_backends(c.ps(n0, "rsweb")).size() == 2; }));
  std::set<std::string> want = expected_backends(c.ps(n0, "rsweb"));

  // 1. Every node lists both instances, on their nodes' addresses and ports.
  {
    const bool routed = wait_for(30s, [&] { return every_node_routes(c, "rsweb", want, json::array()); });
    INFO("want: " << Catch::Detail::stringify(want) << "\n" << describe_routes(c));
    REQUIRE(routed);
  }
  auto shown = c.cli(n2, {"routes"});
  INFO(shown.out << shown.err);
  REQUIRE(shown.exit_code == 0);
  CHECK(shown.out.find("rsweb.localhost") != std::string::npos);
  for (const auto& b : want) CHECK(shown.out.find(b) != std::string::npos);

  // 2. Scaled down to one: the unplaced instance leaves every node's routes.
  REQUIRE(c.cli(n0, {"scale", "rsweb", "web=1"}).exit_code == 0);
  REQUIRE(wait_for(30s, [&] { return expected_backends(c.ps(n0, "rsweb")).size() == 1; }));
  want = expected_backends(c.ps(n0, "rsweb"));
  {
    const bool routed = wait_for(30s, [&] { return every_node_routes(c, "rsweb", want); });
    INFO("want: " << Catch::Detail::stringify(want) << "\n" << describe_routes(c));
    REQUIRE(routed);
  }

  // 3. A custom domain reaches every node; another app cannot take it; removing it works.
  auto added = c.cli(n2, {"domains", "add", "rsweb", "WWW.Example.TEST"});
  INFO(added.out << added.err);
  REQUIRE(added.exit_code == 0);
  CHECK(added.out.find("Added www.example.test to rsweb") != std::string::npos);
  {
    const bool routed = wait_for(
        30s, [&] { return every_node_routes(c, "rsweb", want, json::array({"www.example.test"})); });
    INFO(describe_routes(c));
    REQUIRE(routed);
  }
  auto listed = c.cli(n0, {"domains", "rsweb"});
  CHECK(listed.exit_code == 0);
  CHECK(listed.out == "www.example.test\n");
  auto as_json = c.cli(n0, {"routes", "--format", "json"});
  REQUIRE(as_json.exit_code == 0);
  CHECK(json::parse(as_json.out).value("domain", "") == "localhost");

  REQUIRE(c.cli(n0, {"apps", "create", "other"}).exit_code == 0);
  auto taken = c.cli(n0, {"domains", "add", "other", "www.example.test"});
  CHECK(taken.exit_code == 1);
  CHECK(taken.err.find("domain 'www.example.test' already belongs to app 'rsweb'") !=
        std::string::npos);
  auto no_app = c.cli(n0, {"domains", "add", "nope", "x.example.test"});
  CHECK(no_app.exit_code == 1);
  CHECK(no_app.err.find("no app 'nope'") != std::string::npos);

  REQUIRE(c.cli(n0, {"domains", "remove", "rsweb", "www.example.test"}).exit_code == 0);
  {
    const bool routed = wait_for(30s, [&] { return every_node_routes(c, "rsweb", want, json::array()); });
    INFO(describe_routes(c));
    REQUIRE(routed);
  }
}

}  // namespace
}  // namespace shoal::test
