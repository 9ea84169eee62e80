// Tests of node/apps/app_state: every command and its errors, release retention,
// determinism, snapshot round trip and garbage refused.
#include "node/apps/app_state.h"

#include <catch2/catch.hpp>

#include "tests/node/apps/deploy_test_util.h"

using namespace shoal;
using namespace shoal::node::apps;
using namespace shoal::node::apps::test;
using json = nlohmann::json;

TEST_CASE("app: set_app names the group once", "[apps][app_state]") {
  AppState a;
  REQUIRE(run(a, AppState::set_app("hello")).ok());
  CHECK(a.name() == "hello");
  REQUIRE(run(a, AppState::set_app("hello")).ok());
  expect_error(run(a, AppState::set_app("other")), Status::Code::failed_precondition,
               "belongs to app 'hello'");
  expect_error(run(a, AppState::set_app("Bad")), Status::Code::invalid_argument, "DNS label");
  CHECK(a.name() == "hello");
}

TEST_CASE("app: the first release sets the formation from the manifest", "[apps][app_state]") {
  AppState a;
  auto r = run(a, AppState::add_release(digest('a'), digest('b'),
                                        manifest_json("web: ./w\nworker: ./k\nclock: ./c\n",
                                                      "[formation]\nworker = 2\n[limits.web]\n"
                                                      "memory_mb = 128\n"),
                                        "", 1000));
  REQUIRE(r.ok());
  CHECK(r.body["release"] == 1);
  CHECK(a.current_version() == 1);
  const Release* rel = a.current_release();
  REQUIRE(rel != nullptr);
  CHECK(rel->digest == digest('a'));
  CHECK(rel->source_digest == digest('b'));
  CHECK(rel->description == "deploy");
  CHECK(rel->created_ms == 1000);
  CHECK(a.formation().at("web") == FormationEntry{1, 128, kDefaultCpuMillis});
  CHECK(a.formation().at("worker").count == 2);
  CHECK(a.formation().at("clock").count == 0);
  CHECK(a.kept_digests() == std::set<std::string>{digest('a'), digest('b')});
}

TEST_CASE("app: add_release errors change nothing", "[apps][app_state]") {
  AppState a;
  deploy(a, "web: ./w\n");
  const Bytes before = a.snapshot();
  expect_error(run(a, AppState::add_release("abc", "", manifest_json("web: ./w\n"), "", 1)),
               Status::Code::invalid_argument, "digest 'abc' is not 64 lowercase hex");
  expect_error(
      run(a, AppState::add_release(digest('a'), "xyz", manifest_json("web: ./w\n"), "", 1)),
      Status::Code::invalid_argument, "source_digest 'xyz'");
  expect_error(run(a, AppState::add_release(digest('a'), "", json{{"processes", 1}}, "", 1)),
               Status::Code::invalid_argument, "manifest");
  expect_error(run(a, AppState::add_release(digest('a'), "", json::array(), "", 1)),
               Status::Code::invalid_argument, "'manifest' must be an object");
  CHECK(a.snapshot() == before);
}

TEST_CASE("app: later releases keep scaled counts, add and drop types", "[apps][app_state]") {
  AppState a;
  deploy(a, "web: ./w\nworker: ./k\n");
  REQUIRE(run(a, AppState::scale({{"web", 3}, {"worker", 1}})).ok());
  REQUIRE(run(a, AppState::set_limits("web", 256, std::nullopt)).ok());
  deploy(a, "web: ./w2\nclock: ./c\n", "[formation]\nclock = 1\n");
  CHECK(a.current_version() == 2);
  CHECK(a.formation().at("web") == FormationEntry{3, 256, kDefaultCpuMillis});  // kept
  CHECK(a.formation().at("clock").count == 1);                                  // new: default
  CHECK_FALSE(a.formation().contains("worker"));                                // gone: 0
  // A manifest that changes a type's limits wins over set_limits.
  deploy(a, "web: ./w2\nclock: ./c\n", "[limits]\nmemory_mb = 1024\n");
  CHECK(a.formation().at("web").memory_mb == 1024);
  CHECK(a.formation().at("web").count == 3);
}

TEST_CASE("app: scale", "[apps][app_state]") {
  AppState a;
  expect_error(run(a, AppState::scale({{"web", 1}})), Status::Code::failed_precondition,
               "deploy before scaling");
  deploy(a, "web: ./w\nworker: ./k\n");
  auto r = run(a, AppState::scale({{"web", 4}}));
  REQUIRE(r.ok());
  CHECK(r.body["formation"]["web"]["count"] == 4);
  CHECK(a.formation().at("web").count == 4);
  expect_error(run(a, AppState::scale({{"web", 2}, {"clock", 1}})), Status::Code::invalid_argument,
               "unknown process type 'clock' (this release has: web, worker)");
  expect_error(run(a, AppState::scale({{"web", 101}})), Status::Code::invalid_argument,
               "web=101 is not a count from 0 to 100");
  expect_error(run(a, AppState::scale({{"web", -1}})), Status::Code::invalid_argument, "web=-1");
  expect_error(run(a, AppState::scale({})), Status::Code::invalid_argument, "no process type");
  CHECK(a.formation().at("web").count == 4);  // an error changes nothing, even its good part
}

TEST_CASE("app: set_limits", "[apps][app_state]") {
  AppState a;
  deploy(a, "web: ./w\n");
  REQUIRE(run(a, AppState::set_limits("web", 64, 250)).ok());
  CHECK(a.formation().at("web") == FormationEntry{1, 64, 250});
  REQUIRE(run(a, AppState::set_limits("web", std::nullopt, 500)).ok());
  CHECK(a.formation().at("web") == FormationEntry{1, 64, 500});
  expect_error(run(a, AppState::set_limits("db", 64, std::nullopt)), Status::Code::invalid_argument,
               "unknown process type 'db'");
  expect_error(run(a, AppState::set_limits("web", 1, std::nullopt)), Status::Code::invalid_argument,
               "memory_mb must be from 16");
  expect_error(run(a, AppState::set_limits("web", std::nullopt, std::nullopt)),
               Status::Code::invalid_argument, "give memory_mb, cpu_millis or both");
  CHECK(a.formation().at("web") == FormationEntry{1, 64, 500});
}

TEST_CASE("app: set_config makes a release, before any deploy it waits", "[apps][app_state]") {
  AppState a;
  auto early = run(a, AppState::set_config({{"DATABASE_URL", "pg://x"}}, {}, 5));
  REQUIRE(early.ok());
  CHECK(early.body["release"].is_null());
  CHECK(a.releases().empty());
  deploy(a, "web: ./w\n");
  CHECK(a.current_release()->config.at("DATABASE_URL") == "pg://x");

  auto r = run(a, AppState::set_config({{"A", "1"}, {"B", "2"}}, {"DATABASE_URL"}, 7));
  REQUIRE(r.ok());
  CHECK(r.body["release"] == 2);
  const Release* v2 = a.current_release();
  CHECK(v2->config == std::map<std::string, std::string>{{"A", "1"}, {"B", "2"}});
  CHECK(v2->digest == a.release(1)->digest);
  CHECK(v2->description == "config set A B; config unset DATABASE_URL");
  CHECK(v2->created_ms == 7);
  CHECK(a.config() == v2->config);
  CHECK(a.release(1)->config.contains("DATABASE_URL"));  // releases are immutable

  std::map<std::string, std::string> many;
  for (int i = 0; i < 100; ++i) many["VARIABLE_" + std::to_string(i)] = "x";
  REQUIRE(run(a, AppState::set_config(many, {}, 8)).ok());
  CHECK(a.current_release()->description == "config set 100 vars, unset 0");

  const Bytes before = a.snapshot();
  expect_error(run(a, AppState::set_config({{"PORT", "1"}}, {}, 8)), Status::Code::invalid_argument,
               "'PORT' is reserved");
  expect_error(run(a, AppState::set_config({{"1X", "1"}}, {}, 8)), Status::Code::invalid_argument,
               "config var '1X'");
  expect_error(run(a, AppState::set_config({{"A", "1"}}, {"A"}, 8)), Status::Code::invalid_argument,
               "'A' is both set and unset");
  expect_error(run(a, AppState::set_config({}, {}, 8)), Status::Code::invalid_argument,
               "nothing to set");
  CHECK(a.snapshot() == before);
}

TEST_CASE("app: rollback", "[apps][app_state]") {
  AppState a;
  expect_error(run(a, AppState::rollback(std::nullopt, 1)), Status::Code::failed_precondition,
               "deploy first");
  deploy(a, "web: ./one\n");
  expect_error(run(a, AppState::rollback(std::nullopt, 1)), Status::Code::not_found,
               "no kept release before v1");
  REQUIRE(run(a, AppState::set_config({{"K", "v"}}, {}, 2)).ok());  // v2
  deploy(a, "web: ./three\nworker: ./k\n");                         // v3
  auto r = run(a, AppState::rollback(std::nullopt, 50));            // -> v4 = v2
  REQUIRE(r.ok());
  CHECK(r.body["release"] == 4);
  CHECK(r.body["from"] == 2);
  const Release* v4 = a.current_release();
  CHECK(v4->description == "rollback to v2");
  CHECK(v4->digest == a.release(2)->digest);
  CHECK(v4->manifest == a.release(2)->manifest);
  CHECK(v4->config == a.release(2)->config);
  CHECK(v4->created_ms == 50);
  CHECK(*a.current_manifest()->command("web") == "./one");
  CHECK_FALSE(a.formation().contains("worker"));

  REQUIRE(run(a, AppState::rollback(1, 60)).ok());  // v5 = v1
  CHECK(a.current_release()->config.empty());
  CHECK(a.config().empty());
  expect_error(run(a, AppState::rollback(9, 1)), Status::Code::not_found, "there is no release v9");
  expect_error(run(a, AppState::rollback(5, 1)), Status::Code::failed_precondition,
               "v5 is the current release");
  expect_error(run(a, AppState::rollback(0, 1)), Status::Code::invalid_argument, "'version'");
}

TEST_CASE("app: only the last 10 releases are kept, and those instances run", "[apps][app_state]") {
  AppState a;
  deploy(a, "web: ./w\n", "", 'a');  // v1
  auto placed = run(a, AppState::place("web", "n1", 1, 1));
  REQUIRE(placed.ok());
  for (char c : std::string("bcdef012345")) deploy(a, "web: ./w\n", "", c);  // v2..v12
  CHECK(a.current_version() == 12);
  // v1 is still run by web.1; v2 is the oldest that nothing uses: dropped.
  CHECK(a.release(1) != nullptr);
  CHECK(a.release(2) == nullptr);
  CHECK(a.releases().size() == 11);
  CHECK(a.kept_digests().contains(digest('a')));
  CHECK_FALSE(a.kept_digests().contains(digest('b')));
  expect_error(run(a, AppState::rollback(2, 1)), Status::Code::not_found,
               "v2 is no longer kept (only the last 10 are)");
  REQUIRE(run(a, AppState::remove_instance("web.1")).ok());
  CHECK(a.release(1) == nullptr);
  CHECK(a.releases().size() == 10);
  CHECK(a.releases().begin()->first == 3);
}

TEST_CASE("app: place, unplace, remove_instance", "[apps][app_state]") {
  AppState a;
  deploy(a, "web: ./w\nworker: ./k\n");
  auto p1 = run(a, AppState::place("web", "n1", 1, 100));
  auto p2 = run(a, AppState::place("worker", "n2", 1, 101));
  auto p3 = run(a, AppState::place("web", "n2", 1, 102));
  REQUIRE((p1.ok() && p2.ok() && p3.ok()));
  CHECK(p1.body["id"] == "web.1");
  CHECK(p2.body["id"] == "worker.2");
  CHECK(p3.body["id"] == "web.3");
  const Instance* i = a.instance("web.1");
  REQUIRE(i != nullptr);
  CHECK(i->node == "n1");
  CHECK(i->release == 1);
  CHECK(i->state == "assigned");
  CHECK(i->since_ms == 100);
  CHECK(i->desired);

  expect_error(run(a, AppState::place("web", "n1", 7, 1)), Status::Code::not_found,
               "release v7 is not kept");
  expect_error(run(a, AppState::place("clock", "n1", 1, 1)), Status::Code::invalid_argument,
               "release v1 has no process type 'clock'");
  expect_error(run(a, AppState::place("web", "", 1, 1)), Status::Code::invalid_argument,
               "node name");
  CHECK(a.next_instance_seq() == 4);  // errors use no id

  REQUIRE(run(a, AppState::unplace("web.1")).ok());
  CHECK_FALSE(a.instance("web.1")->desired);
  expect_error(run(a, AppState::unplace("web.9")), Status::Code::not_found, "no instance 'web.9'");
  REQUIRE(run(a, AppState::remove_instance("web.1")).ok());
  CHECK(a.instance("web.1") == nullptr);
  expect_error(run(a, AppState::remove_instance("web.1")), Status::Code::not_found,
               "no instance 'web.1'");
  CHECK(run(a, AppState::place("web", "n1", 1, 1)).body["id"] == "web.4");  // never reused
}

TEST_CASE("app: restart marks instances for a rolling replacement, one id restarts in place",
          "[apps][app_state]") {
  AppState a;
  deploy(a, "web: ./w\nworker: ./k\n");
  for (auto [t, n] : std::vector<std::pair<std::string, std::string>>{
           {"web", "n1"}, {"web", "n2"}, {"worker", "n1"}}) {
    REQUIRE(run(a, AppState::place(t, n, 1, 1)).ok());
  }
  REQUIRE(run(a, AppState::unplace("web.2")).ok());
  auto all = run(a, AppState::restart(""));
  REQUIRE(all.ok());
  CHECK(all.body["restarted"] == json{"web.1", "worker.3"});  // not the one being stopped
  CHECK(a.instance("web.1")->replace);
  CHECK(a.instance("web.1")->generation == 0);
  CHECK_FALSE(a.instance("web.2")->replace);
  CHECK(run(a, AppState::restart("worker")).body["restarted"] == json{"worker.3"});
  CHECK(a.instance("worker.3")->replace);
  CHECK(run(a, AppState::restart("web.1")).body["restarted"] == json{"web.1"});
  CHECK(a.instance("web.1")->generation == 1);
  // The mark survives a snapshot.
  AppState copy;
  REQUIRE(copy.restore(a.snapshot()).ok());
  CHECK(copy.instance("worker.3")->replace);
  expect_error(run(a, AppState::restart("clock")), Status::Code::not_found,
               "'clock' is neither a process type (web, worker) nor an instance");
  expect_error(run(a, AppState::restart("web.9")), Status::Code::not_found, "'web.9'");
}

TEST_CASE("app: report updates only the reporting node's instances", "[apps][app_state]") {
  AppState a;
  deploy(a, "web: ./w\n");
  REQUIRE(run(a, AppState::place("web", "n1", 1, 1)).ok());
  REQUIRE(run(a, AppState::place("web", "n2", 1, 1)).ok());
  auto r = run(a, AppState::report("n1", {{"web.1", "running", 42, 20001, 1, 0, 500, ""},
                                          {"web.2", "crashed", 43, 20002, 9, 0, 501, "x"},
                                          {"web.99", "running", 1, 1, 0, 0, 1, ""}}));
  REQUIRE(r.ok());
  CHECK(r.body["updated"] == 1);
  CHECK(r.body["ignored"] == json{"web.2", "web.99"});
  const Instance* i = a.instance("web.1");
  CHECK(i->state == "running");
  CHECK(i->pid == 42);
  CHECK(i->port == 20001);
  CHECK(i->restarts == 1);
  CHECK(i->since_ms == 500);
  CHECK(a.instance("web.2")->state == "assigned");

  const Bytes before = a.snapshot();
  expect_error(run(a, AppState::report("n1", {{"web.1", "sleeping", 1, 1, 0, 0, 1, ""}})),
               Status::Code::invalid_argument, "'sleeping' is not an instance state");
  expect_error(run(a, AppState::report("n1", {{"web.1", "running", 1, 70000, 0, 0, 1, ""}})),
               Status::Code::invalid_argument, "'port' must be an integer from 0 to 65535");
  expect_error(run(a, AppState::report("n1", {{"web.1", "assigned", 1, 1, 0, 0, 1, ""}})),
               Status::Code::invalid_argument, "not an instance state");
  CHECK(a.snapshot() == before);
}

TEST_CASE("app: set_stopped and bad command bytes", "[apps][app_state]") {
  AppState a;
  REQUIRE(run(a, AppState::set_stopped(true)).body["stopped"] == true);
  CHECK(a.stopped());
  REQUIRE(run(a, AppState::set_stopped(false)).ok());
  CHECK_FALSE(a.stopped());
  deploy(a, "web: ./w\n");
  const Bytes before = a.snapshot();
  expect_error(run(a, Bytes{0xc1}), Status::Code::invalid_argument, "not valid msgpack");
  expect_error(run(a, encode_command({{"op", "fly"}})), Status::Code::invalid_argument,
               "unknown app command 'fly'");
  expect_error(run(a, encode_command({{"op", "set_stopped"}, {"stopped", 1}})),
               Status::Code::invalid_argument, "'stopped' must be true or false");
  const Bytes good = AppState::place("web", "n1", 1, 5);
  for (size_t n = 0; n < good.size(); ++n) {
    (void)a.apply(entry(Bytes(good.begin(), good.begin() + static_cast<long>(n))));
  }
  CHECK(a.snapshot() == before);
}

TEST_CASE("app: two machines fed the same entries agree byte for byte", "[apps][app_state]") {
  std::vector<Bytes> log = {
      AppState::set_app("hello"),
      AppState::add_release(digest('a'), "", manifest_json("web: ./w\nworker: ./k\n"), "", 10),
      AppState::scale({{"web", 3}}),
      AppState::place("web", "n1", 1, 11),
      AppState::place("web", "n2", 1, 12),
      AppState::report("n1", {{"web.1", "running", 7, 20000, 0, 0, 13, ""}}),
      AppState::set_config({{"A", "b"}}, {}, 14),
      AppState::restart("web"),
      AppState::scale({{"nope", 3}}),  // an error
      AppState::rollback(std::nullopt, 15),
      AppState::unplace("web.2"),
      Bytes{0x00},
  };
  AppState x, y;
  for (const auto& cmd : log) CHECK(x.apply(entry(cmd)) == y.apply(entry(cmd)));
  CHECK(x.snapshot() == y.snapshot());
}

TEST_CASE("app: snapshot round trip, garbage refused", "[apps][app_state]") {
  AppState a;
  REQUIRE(run(a, AppState::set_app("hello")).ok());
  deploy(a, "web: ./w\nworker: ./k\n", "[health]\npath = \"/up\"\n");
  REQUIRE(run(a, AppState::set_config({{"A", "1"}}, {}, 3)).ok());
  REQUIRE(run(a, AppState::place("web", "n1", 2, 4)).ok());
  REQUIRE(run(a, AppState::report("n1", {{"web.1", "running", 7, 20000, 2, 0, 5, "ok"}})).ok());
  REQUIRE(run(a, AppState::set_stopped(true)).ok());
  const Bytes snap = a.snapshot();

  AppState b;
  REQUIRE(b.restore(snap).ok());
  CHECK(b.snapshot() == snap);
  CHECK(b.name() == "hello");
  CHECK(b.releases() == a.releases());
  CHECK(b.current_version() == 2);
  REQUIRE(b.current_manifest() != nullptr);
  CHECK(*b.current_manifest() == *a.current_manifest());
  CHECK(b.config() == a.config());
  CHECK(b.formation() == a.formation());
  CHECK(b.instances() == a.instances());
  CHECK(b.stopped());
  CHECK(run(b, AppState::place("web", "n2", 2, 6)).body["id"] == "web.2");

  AppState c;
  deploy(c, "web: ./keep\n");
  const Bytes c_before = c.snapshot();
  CHECK(c.restore(Bytes{0xc1}).is(Status::Code::corruption));
  json j = json::from_msgpack(snap);
  j["current"] = 9;
  CHECK_THAT(c.restore(json::to_msgpack(j)).message(), Catch::Contains("current release v9"));
  j = json::from_msgpack(snap);
  j["releases"][0]["manifest"]["processes"] = json::array();
  CHECK_THAT(c.restore(json::to_msgpack(j)).message(), Catch::Contains("no process types"));
  j = json::from_msgpack(snap);
  j["instances"]["web.1"]["desired"] = "yes";
  CHECK_THAT(c.restore(json::to_msgpack(j)).message(),
             Catch::Contains("instance 'web.1'") && Catch::Contains("'desired'"));
  j = json::from_msgpack(snap);
  j["releases"][1]["version"] = 1;
  CHECK_THAT(c.restore(json::to_msgpack(j)).message(), Catch::Contains("repeated"));
  j = json::from_msgpack(snap);
  j["version"] = 2;
  CHECK_THAT(c.restore(json::to_msgpack(j)).message(), Catch::Contains("version 2 is not 1"));
  CHECK(c.snapshot() == c_before);
  REQUIRE(c.restore({}).ok());
  CHECK(c.releases().empty());
}
