// Tests of node/router/route_store (the receiving end of the route channel) and of what an
// app leader puts in a push (node/apps/app_routes: route_backends): fencing, down-node
// filtering, retain_apps, the listener's order, the JSON both ways.
#include "node/router/route_store.h"

#include <catch2/catch.hpp>

#include "node/apps/app_routes.h"
#include "tests/node/apps/deploy_test_util.h"

using namespace shoal;
using namespace shoal::node;
using router::Backend;
using router::RoutePush;
using router::RouteStore;
using Outcome = RouteStore::Outcome;
using json = nlohmann::json;

namespace {

Backend backend(const std::string& instance, const std::string& node, uint16_t port) {
  return Backend{instance, node, "10.0.0." + node.substr(1), port, 1};
}

RoutePush push(const std::string& app, uint64_t group, uint64_t term, uint64_t version,
               std::vector<Backend> backends = {}, std::vector<std::string> domains = {}) {
  return RoutePush{app, group, term, version, std::move(domains), std::move(backends)};
}

std::vector<std::string> instances_of(const RouteStore& s, const std::string& app) {
  std::vector<std::string> out;
  const auto* a = s.table()->app(app);
  if (a == nullptr) return out;
  for (const auto& b : a->backends) out.push_back(b.instance);
  return out;
}

}  // namespace

TEST_CASE("route store: applied, unchanged, stale, fenced", "[routes]") {
  RouteStore s("localhost");
  CHECK(s.table()->apps().empty());
  CHECK(s.apply(push("hello", 5, 2, 10, {backend("web.1", "n1", 3000)})) == Outcome::applied);
  CHECK(instances_of(s, "hello") == std::vector<std::string>{"web.1"});
  CHECK(s.apply(push("hello", 5, 2, 10, {backend("web.1", "n1", 3000)})) == Outcome::unchanged);
  // An older version of the same term changes nothing, even with other backends.
  CHECK(s.apply(push("hello", 5, 2, 9)) == Outcome::stale);
  CHECK(instances_of(s, "hello") == std::vector<std::string>{"web.1"});
  // A deposed leader (lower term) is fenced, whatever its version.
  CHECK(s.apply(push("hello", 5, 1, 99)) == Outcome::fenced);
  CHECK(instances_of(s, "hello") == std::vector<std::string>{"web.1"});
  // A new leader (higher term) is taken even with a lower version.
  CHECK(s.apply(push("hello", 5, 3, 1, {backend("web.2", "n2", 3001)})) == Outcome::applied);
  CHECK(instances_of(s, "hello") == std::vector<std::string>{"web.2"});
  CHECK(s.apply(push("hello", 5, 3, 2, {})) == Outcome::applied);
  REQUIRE(s.table()->app("hello") != nullptr);
  CHECK(s.table()->app("hello")->backends.empty());  // known, no backend: 503 not 404
  CHECK(router::to_string(Outcome::fenced) == "fenced");
  CHECK(router::to_string(Outcome::stale) == "stale");
}

TEST_CASE("route store: a higher group replaces a lower one, a lower group is fenced", "[routes]") {
  RouteStore s("localhost");
  REQUIRE(s.apply(push("hello", 5, 7, 100, {backend("web.1", "n1", 3000)})) == Outcome::applied);
  // The app was destroyed and created again: new group, its terms start over.
  CHECK(s.apply(push("hello", 9, 1, 1, {backend("web.1", "n2", 4000)})) == Outcome::applied);
  REQUIRE(s.table()->app("hello") != nullptr);
  CHECK(s.table()->app("hello")->backends.at(0).node == "n2");
  CHECK(s.apply(push("hello", 5, 8, 200)) == Outcome::fenced);
  CHECK(s.table()->app("hello")->backends.at(0).node == "n2");
}

TEST_CASE("route store: backends on down nodes are left out until the node is back", "[routes]") {
  RouteStore s("localhost");
  REQUIRE(s.apply(push("hello", 5, 1, 1,
                       {backend("web.1", "n1", 3000), backend("web.2", "n2", 3000)})) ==
          Outcome::applied);
  s.set_down_nodes({"n2"});
  CHECK(instances_of(s, "hello") == std::vector<std::string>{"web.1"});
  json j = s.to_json();
  CHECK(j["apps"][0]["down"] == json::array({"web.2"}));
  CHECK(j["apps"][0]["backends"].size() == 1);
  // A push while the node is down keeps it out; the node coming back restores it.
  REQUIRE(s.apply(push("hello", 5, 1, 2,
                       {backend("web.1", "n1", 3000), backend("web.2", "n2", 3001)})) ==
          Outcome::applied);
  CHECK(instances_of(s, "hello") == std::vector<std::string>{"web.1"});
  s.set_down_nodes({});
  CHECK(instances_of(s, "hello") == std::vector<std::string>{"web.1", "web.2"});
  CHECK(s.table()->app("hello")->backends.at(1).port == 3001);
}

TEST_CASE("route store: retain_apps drops destroyed apps, keeps newer ones", "[routes]") {
  RouteStore s("localhost");
  REQUIRE(s.apply(push("gone", 3, 1, 1)) == Outcome::applied);
  REQUIRE(s.apply(push("kept", 4, 1, 1)) == Outcome::applied);
  REQUIRE(s.apply(push("young", 6, 1, 1)) == Outcome::applied);    // created after the read
  REQUIRE(s.apply(push("reborn", 2, 1, 1)) == Outcome::applied);   // catalog has group 5 now
  s.retain_apps({{"kept", 4}, {"reborn", 5}}, /*next_group=*/6);
  CHECK(s.table()->app("gone") == nullptr);
  CHECK(s.table()->app("kept") != nullptr);
  CHECK(s.table()->app("young") != nullptr);
  CHECK(s.table()->app("reborn") == nullptr);
  // Keeping the last routes: nothing expires them by silence, only the catalog does.
  s.retain_apps({{"kept", 4}, {"young", 6}}, 7);
  CHECK(s.table()->apps().size() == 2);
}

TEST_CASE("route store: the listener gets every new table, in order", "[routes]") {
  RouteStore s("example.com");
  std::vector<std::shared_ptr<const router::RouteTable>> seen;
  s.set_listener([&](std::shared_ptr<const router::RouteTable> t) { seen.push_back(t); });
  REQUIRE(seen.size() == 1);  // the current table, at once
  CHECK(seen[0]->apps().empty());
  CHECK(seen[0]->domain() == "example.com");

  REQUIRE(s.apply(push("hello", 5, 1, 1, {backend("web.1", "n1", 3000)})) == Outcome::applied);
  REQUIRE(s.apply(push("hello", 5, 1, 1, {backend("web.1", "n1", 3000)})) == Outcome::unchanged);
  // A newer version with the same routes is taken but builds no new table.
  REQUIRE(s.apply(push("hello", 5, 1, 2, {backend("web.1", "n1", 3000)})) == Outcome::applied);
  REQUIRE(s.apply(push("hello", 5, 1, 3, {backend("web.1", "n1", 3000)}, {"www.hello.io"})) ==
          Outcome::applied);
  s.set_down_nodes({"n1"});
  s.set_down_nodes({"n1"});  // no change, no table
  s.retain_apps({}, 6);
  REQUIRE(seen.size() == 5);
  CHECK(seen[1]->app("hello")->backends.size() == 1);
  CHECK(seen[1]->lookup("hello.example.com") == seen[1]->app("hello"));
  CHECK(seen[2]->lookup("WWW.hello.io:8000") == seen[2]->app("hello"));
  CHECK(seen[3]->app("hello")->backends.empty());
  CHECK(seen[4]->apps().empty());
  CHECK(seen.back() == s.table());
}

TEST_CASE("route store: to_json shape", "[routes]") {
  RouteStore s("Example.COM");
  const auto t0 = RouteStore::Clock::now();
  REQUIRE(s.apply(push("hello", 5, 2, 7, {backend("web.1", "n1", 3000)}, {"a.io"}), t0) ==
          Outcome::applied);
  const json j = s.to_json(t0 + std::chrono::milliseconds(1500));
  CHECK(j["domain"] == "example.com");
  REQUIRE(j["apps"].size() == 1);
  const json& a = j["apps"][0];
  CHECK(a["app"] == "hello");
  CHECK(a["group"] == 5);
  CHECK(a["term"] == 2);
  CHECK(a["version"] == 7);
  CHECK(a["age_ms"] == 1500);
  CHECK(a["domains"] == json::array({"a.io"}));
  CHECK(a["down"] == json::array());
  CHECK(a["backends"] == json::array({{{"instance", "web.1"},
                                       {"node", "n1"},
                                       {"host", "10.0.0.1"},
                                       {"port", 3000},
                                       {"release", 1}}}));
  // An unchanged push renews the age: the leader still stands behind these routes.
  REQUIRE(s.apply(push("hello", 5, 2, 7, {backend("web.1", "n1", 3000)}, {"a.io"}),
                  t0 + std::chrono::seconds(3)) == Outcome::unchanged);
  CHECK(s.to_json(t0 + std::chrono::seconds(3))["apps"][0]["age_ms"] == 0);
}

TEST_CASE("route push: JSON round trip, malformed bodies are refused naming the field",
          "[routes]") {
  const RoutePush p = push("hello", 5, 2, 7,
                           {backend("web.1", "n1", 3000), backend("web.2", "n2", 3001)}, {"a.io"});
  auto back = router::parse_route_push(router::to_json(p));
  REQUIRE(back.ok());
  CHECK(*back == p);

  auto refused = [&](const std::function<void(json&)>& edit, const std::string& text) {
    json j = router::to_json(p);
    edit(j);
    auto r = router::parse_route_push(j);
    INFO(j.dump());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().is(Status::Code::invalid_argument));
    CHECK_THAT(r.status().message(), Catch::Contains(text));
  };
  refused([](json& j) { j = json::array(); }, "not a JSON object");
  refused([](json& j) { j.erase("app"); }, "'app' must be a string");
  refused([](json& j) { j["app"] = ""; }, "'app' is empty");
  refused([](json& j) { j["group"] = -1; }, "'group' must be an integer");
  refused([](json& j) { j["term"] = "2"; }, "'term' must be an integer");
  refused([](json& j) { j.erase("version"); }, "'version'");
  refused([](json& j) { j["domains"] = "a.io"; }, "'domains' must be an array");
  refused([](json& j) { j["domains"] = {1}; }, "'domains' must hold strings");
  refused([](json& j) { j["backends"] = json::object(); }, "'backends' must be an array");
  refused([](json& j) { j["backends"][1] = 3; }, "backends[1]: not an object");
  refused([](json& j) { j["backends"][0].erase("node"); }, "backends[0]: 'node' must be a string");
  refused([](json& j) { j["backends"][1]["port"] = 70000; }, "backends[1]: 'port' must be");
  refused([](json& j) { j["backends"][0]["port"] = 0; }, "backends[0]: needs a host and a port");
  refused([](json& j) { j["backends"][0]["host"] = ""; }, "needs a host and a port");

  // Domains and backends may be left out: none.
  auto bare = router::parse_route_push({{"app", "x"}, {"group", 1}, {"term", 1}, {"version", 1}});
  REQUIRE(bare.ok());
  CHECK(bare->backends.empty());
  CHECK(bare->domains.empty());
}

TEST_CASE("route_backends: desired, up, ported web instances on alive nodes", "[routes]") {
  using namespace shoal::node::apps;
  using namespace shoal::node::apps::test;
  AppState a;
  REQUIRE(run(a, AppState::set_app("hello")).ok());
  deploy(a, "web: ./w\nworker: ./k\n", "[health]\npath = \"/up\"\n");
  for (const char* node : {"n1", "n1", "n2", "n3", "n1", "n1"}) {
    REQUIRE(run(a, AppState::place("web", node, 1, 1)).ok());
  }
  REQUIRE(run(a, AppState::place("worker", "n1", 1, 1)).ok());
  // web.1 up; web.2 running but still starting its check; web.3 on n2 up; web.4 on a dead
  // node; web.5 up but unplaced (being stopped); web.6 up but no port; worker.7 not web.
  REQUIRE(run(a, AppState::report("n1", {{"web.1", "running", 1, 3001, 0, 0, 5, "", "healthy", ""},
                                         {"web.2", "running", 2, 3002, 0, 0, 5, "", "starting", ""},
                                         {"web.5", "running", 5, 3005, 0, 0, 5, "", "healthy", ""},
                                         {"web.6", "running", 6, 0, 0, 0, 5, "", "healthy", ""},
                                         {"worker.7", "running", 7, 3007, 0, 0, 5, "", "healthy", ""}}))
              .ok());
  REQUIRE(run(a, AppState::report("n2", {{"web.3", "running", 3, 4003, 0, 0, 5, "", "healthy", ""}}))
              .ok());
  REQUIRE(run(a, AppState::report("n3", {{"web.4", "running", 4, 5004, 0, 0, 5, "", "healthy", ""}}))
              .ok());
  REQUIRE(run(a, AppState::unplace("web.5")).ok());
  const std::map<std::string, std::string> hosts = {{"n1", "10.0.0.1"}, {"n2", "10.0.0.2"}};
  auto b = route_backends(a, hosts);
  REQUIRE(b.size() == 2);
  CHECK(b[0] == Backend{"web.1", "n1", "10.0.0.1", 3001, 1});
  CHECK(b[1] == Backend{"web.3", "n2", "10.0.0.2", 4003, 1});

  // A check passing brings web.2 in; a stopped app has no backend at all.
  REQUIRE(run(a, AppState::report("n1", {{"web.2", "running", 2, 3002, 0, 0, 5, "", "healthy", ""}}))
              .ok());
  CHECK(route_backends(a, hosts).size() == 3);
  REQUIRE(run(a, AppState::set_stopped(true)).ok());
  CHECK(route_backends(a, hosts).empty());

  CHECK(host_of("10.1.2.3:7947") == "10.1.2.3");
  CHECK(host_of("[::1]:7947") == "::1");
  CHECK(host_of("nohost") == "");
}
