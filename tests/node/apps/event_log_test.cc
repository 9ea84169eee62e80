// Tests of the lifecycle event logs: the ring (node/apps/event_log.h), the events an app's
// state machine derives from its commands and its failover episodes (app_events.h), and
// the catalog's node events (catalog_events.h).
#include "node/apps/event_log.h"

#include <catch2/catch.hpp>

#include "node/apps/app_state.h"
#include "node/apps/catalog_state.h"
#include "tests/node/apps/deploy_test_util.h"

using namespace shoal;
using namespace shoal::node::apps;
using namespace shoal::node::apps::test;
using json = nlohmann::json;

namespace {

std::vector<std::string> kinds(const EventLog& log, uint64_t after = 0) {
  std::vector<std::string> out;
  for (const auto& e : log.since(after, kEventLogCapacity)) out.push_back(e.kind);
  return out;
}

const Event* find(const EventLog& log, std::string_view kind, uint64_t after = 0) {
  for (const auto& e : log.events()) {
    if (e.seq > after && e.kind == kind) return &e;
  }
  return nullptr;
}

InstanceReport line(const std::string& id, const std::string& state,
                    const std::string& health = "none", int64_t restarts = 0) {
  InstanceReport r;
  r.id = id;
  r.state = state;
  r.health = health;
  r.restarts = restarts;
  r.port = 20001;
  return r;
}

std::string place(AppState& a, const std::string& type, const std::string& node, int64_t now) {
  auto r = run(a, AppState::place(type, node, a.current_version(), now));
  REQUIRE(r.ok());
  return r.body["id"];
}

}  // namespace

TEST_CASE("event log: a bounded ring with consecutive seqs", "[apps][events]") {
  EventLog log(3);
  CHECK(log.last_seq() == 0);
  CHECK(log.since(0, 10).empty());
  for (int i = 1; i <= 5; ++i) log.append({.time_ms = i, .kind = "k" + std::to_string(i)});
  CHECK(log.events().size() == 3);
  CHECK(log.last_seq() == 5);
  CHECK(log.events().front().seq == 3);  // 1 and 2 were dropped
  CHECK(kinds(log) == std::vector<std::string>{"k3", "k4", "k5"});
  CHECK(kinds(log, 3) == std::vector<std::string>{"k4", "k5"});
  CHECK(log.since(5, 10).empty());
  CHECK(log.since(99, 10).empty());
  CHECK(log.since(0, 2).size() == 2);
  CHECK(log.last(2).front().kind == "k4");
  // A long message is cut to the limit.
  log.append({.kind = "long", .message = std::string(5000, 'x')});
  CHECK(log.events().back().message.size() == kMaxEventMessageBytes);
}

TEST_CASE("event log: json round trip, and garbage refused", "[apps][events]") {
  EventLog log(10);
  log.append({.time_ms = 7, .kind = "placed", .app = "a", .node = "n", .instance = "web.1",
              .release = 2, .message = "m", .data = {{"x", 1}}});
  log.append({.time_ms = 8, .kind = "started"});
  auto back = EventLog::from_json(log.to_json(), 10);
  REQUIRE(back.ok());
  CHECK(*back == log);
  json bad = log.to_json();
  bad["events"][1]["seq"] = 7;  // not consecutive
  CHECK_FALSE(EventLog::from_json(bad).ok());
  bad = log.to_json();
  bad["events"][0]["kind"] = 3;
  CHECK_FALSE(EventLog::from_json(bad).ok());
  CHECK_FALSE(EventLog::from_json(json::array()).ok());
}

TEST_CASE("app events: a deploy, its instances and their reports", "[apps][events]") {
  AppState a;
  REQUIRE(run(a, AppState::set_app("hello")).ok());
  REQUIRE(run(a, AppState::add_release(digest('a'), "", manifest_json("web: ./w\n",
                                       "[formation]\nweb = 2\n[health]\ntype = \"tcp\"\n"),
                                       "deploy", 1000))
              .ok());
  const EventLog& log = a.events().log();
  REQUIRE(find(log, "deploy_started") != nullptr);
  CHECK(find(log, "deploy_started")->release == 1);
  CHECK(find(log, "deploy_started")->time_ms == 1000);
  CHECK(find(log, "deploy_started")->app == "hello");

  const std::string w1 = place(a, "web", "n1", 1100);
  const std::string w2 = place(a, "web", "n2", 1100);
  const Event* placed = find(log, "placed");
  REQUIRE(placed != nullptr);
  CHECK(placed->instance == w1);
  CHECK(placed->node == "n1");

  // Running but not yet healthy: started, no deploy_finished yet.
  REQUIRE(run(a, AppState::report("n1", {line(w1, "running", "starting")}, 1200)).ok());
  REQUIRE(run(a, AppState::report("n2", {line(w2, "running", "starting")}, 1200)).ok());
  CHECK(find(log, "started") != nullptr);
  CHECK(find(log, "deploy_finished") == nullptr);
  REQUIRE(run(a, AppState::report("n1", {line(w1, "running", "healthy")}, 1300)).ok());
  CHECK(find(log, "healthy")->instance == w1);
  CHECK(find(log, "deploy_finished") == nullptr);
  REQUIRE(run(a, AppState::report("n2", {line(w2, "running", "healthy")}, 1400)).ok());
  REQUIRE(find(log, "deploy_finished") != nullptr);
  CHECK(find(log, "deploy_finished")->time_ms == 1400);

  // A crash, a restart, a crash loop, an unhealthy verdict.
  uint64_t mark = log.last_seq();
  REQUIRE(run(a, AppState::report("n1", {line(w1, "backoff", "healthy", 1)}, 1500)).ok());
  REQUIRE(run(a, AppState::report("n1", {line(w1, "running", "healthy", 1)}, 1600)).ok());
  REQUIRE(run(a, AppState::report("n1", {line(w1, "crashed", "healthy", 5)}, 1700)).ok());
  REQUIRE(run(a, AppState::report("n2", {line(w2, "running", "unhealthy")}, 1800)).ok());
  CHECK(kinds(log, mark) ==
        std::vector<std::string>{"crashed", "restarted", "crash_loop", "unhealthy"});
  // Reports are batched: a kill may first be seen as "starting" with its count moved, and
  // only the next report says running. That is a restart too, not a first start.
  mark = log.last_seq();
  REQUIRE(run(a, AppState::report("n1", {line(w1, "running", "healthy", 5)}, 1710)).ok());
  REQUIRE(run(a, AppState::report("n1", {line(w1, "starting", "healthy", 6)}, 1720)).ok());
  REQUIRE(run(a, AppState::report("n1", {line(w1, "running", "healthy", 6)}, 1730)).ok());
  CHECK(kinds(log, mark) == std::vector<std::string>{"restarted", "restarted"});
  // A report that changes nothing we tell about adds nothing; another node's line neither.
  mark = log.last_seq();
  REQUIRE(run(a, AppState::report("n2", {line(w2, "running", "unhealthy")}, 1900)).ok());
  REQUIRE(run(a, AppState::report("n2", {line(w1, "stopped")}, 1900)).ok());
  CHECK(log.last_seq() == mark);

  // Scale, restart, stop: with their times.
  REQUIRE(run(a, AppState::scale({{"web", 3}}, 2000)).ok());
  CHECK(find(log, "scaled", mark)->message == "web 2 -> 3");
  REQUIRE(run(a, AppState::restart("web", 2100)).ok());
  CHECK(find(log, "restart_requested", mark) != nullptr);
  REQUIRE(run(a, AppState::set_stopped(true, 2200)).ok());
  CHECK(find(log, "app_stopped", mark)->time_ms == 2200);
  // A command without a time takes the newest seen.
  REQUIRE(run(a, AppState::set_stopped(false)).ok());
  CHECK(find(log, "app_started", mark)->time_ms == 2200);
}

TEST_CASE("app events: failed commands add nothing", "[apps][events]") {
  AppState a;
  deploy(a, "web: ./w\n");
  const Bytes before = a.snapshot();
  expect_error(run(a, AppState::scale({{"nope", 1}}, 5000)), Status::Code::invalid_argument,
               "unknown process type");
  expect_error(run(a, app_record_event("Bad Kind", "x", 5000)), Status::Code::invalid_argument,
               "not an event kind");
  expect_error(run(a, app_node_failed("", 5000)), Status::Code::invalid_argument, "");
  CHECK(a.snapshot() == before);
}

TEST_CASE("app events: a failover episode with its three times", "[apps][events][failover]") {
  AppState a;
  REQUIRE(run(a, AppState::set_app("hello")).ok());
  deploy(a, "web: ./w\n", "[formation]\nweb = 2\n");
  const std::string w1 = place(a, "web", "n1", 1000);
  const std::string w2 = place(a, "web", "n2", 1000);
  REQUIRE(run(a, AppState::report("n1", {line(w1, "running")}, 1100)).ok());
  REQUIRE(run(a, AppState::report("n2", {line(w2, "running")}, 1100)).ok());

  // n2 fails: T0 = 10'000.
  REQUIRE(run(a, app_node_failed("n2", 10'000)).body["episode"] == true);
  CHECK(run(a, app_node_failed("n2", 10'100)).body["episode"] == false);  // once
  CHECK(run(a, app_node_failed("n1-other", 10'100)).body["episode"] == false);  // ran nothing
  REQUIRE(a.events().episodes().contains("n2"));
  const EventLog& log = a.events().log();
  const Event* failed = find(log, "node_failed");
  REQUIRE(failed != nullptr);
  CHECK(failed->node == "n2");
  CHECK(failed->data["detected_ms"] == 10'000);

  // The scheduler unplaces w2 and places its replacement: T1 = 10'500.
  REQUIRE(run(a, AppState::unplace(w2, 10'400)).ok());
  CHECK(find(log, "unplaced")->message == "stopping " + w2 + ": its node failed");
  CHECK(find(log, "replacements_placed") == nullptr);
  const std::string w3 = place(a, "web", "n3", 10'500);
  const Event* moved = find(log, "moved");
  REQUIRE(moved != nullptr);
  CHECK(moved->instance == w3);
  CHECK(moved->data["from_instance"] == w2);
  const Event* placed = find(log, "replacements_placed");
  REQUIRE(placed != nullptr);
  CHECK(placed->data["placed_after_ms"] == 500);

  // The replacement runs: T2 = 12'000.
  REQUIRE(run(a, AppState::report("n3", {line(w3, "starting")}, 11'000)).ok());
  CHECK(find(log, "failover_recovered") == nullptr);
  REQUIRE(run(a, AppState::report("n3", {line(w3, "running")}, 12'000)).ok());
  const Event* up = find(log, "failover_recovered");
  REQUIRE(up != nullptr);
  CHECK(up->node == "n2");
  CHECK(up->data["detected_ms"] == 10'000);
  CHECK(up->data["placed_ms"] == 10'500);
  CHECK(up->data["up_ms"] == 12'000);
  CHECK(up->data["recovered_after_ms"] == 2'000);
  CHECK(a.events().episodes().empty());
}

TEST_CASE("app events: an episode that never recovers gives up", "[apps][events][failover]") {
  AppState a;
  deploy(a, "web: ./w\n");
  const std::string w1 = place(a, "web", "n1", 1000);
  REQUIRE(run(a, app_node_failed("n1", 2000)).ok());
  REQUIRE(run(a, AppState::unplace(w1, 2100)).ok());
  CHECK(a.events().episodes().size() == 1);
  REQUIRE(run(a, AppState::scale({{"web", 1}}, 2000 + kFailoverGiveUpMs + 1)).ok());
  CHECK(a.events().episodes().empty());
  CHECK(find(a.events().log(), "failover_incomplete") != nullptr);
}

TEST_CASE("app events: leader changes once per term, snapshot round trip", "[apps][events]") {
  AppState a;
  deploy(a, "web: ./w\n");
  const std::string w1 = place(a, "web", "n1", 1000);
  REQUIRE(run(a, app_leader_changed("n1", 3, 1000)).body["recorded"] == true);
  CHECK(run(a, app_leader_changed("n2", 3, 1001)).body["recorded"] == false);
  CHECK(run(a, app_leader_changed("n2", 2, 1001)).body["recorded"] == false);
  REQUIRE(run(a, app_node_failed("n1", 2000)).ok());  // an open episode is in the snapshot
  REQUIRE(run(a, app_record_event("custom_thing", "said the leader", 2500, "n2")).ok());

  AppState b;
  REQUIRE(b.restore(a.snapshot()).ok());
  CHECK(b.events() == a.events());
  // Same commands from here, same events.
  REQUIRE(run(a, AppState::unplace(w1, 3000)).ok());
  REQUIRE(run(b, AppState::unplace(w1, 3000)).ok());
  CHECK(b.events() == a.events());
}

TEST_CASE("app events: a snapshot without events still restores", "[apps][events]") {
  AppState a;
  deploy(a, "web: ./w\n");
  json old = json::from_msgpack(a.snapshot());
  old.erase("events");
  const Bytes bytes = json::to_msgpack(old);
  AppState b;
  REQUIRE(b.restore(bytes).ok());
  CHECK(b.events().log().events().empty());
  CHECK(b.events().deploy_done() == 1);  // the current release counts as rolled out
  json bad = json::from_msgpack(a.snapshot());
  bad["events"]["log"]["next_seq"] = "x";
  AppState c;
  CHECK(c.restore(json::to_msgpack(bad)).is(Status::Code::corruption));
}

TEST_CASE("app events: the ring keeps the newest events", "[apps][events]") {
  AppState a;
  deploy(a, "web: ./w\n");
  for (size_t i = 0; i < kEventLogCapacity + 50; ++i) {
    REQUIRE(run(a, app_record_event("tick", std::to_string(i), 1000 + int64_t(i))).ok());
  }
  const EventLog& log = a.events().log();
  CHECK(log.events().size() == kEventLogCapacity);
  CHECK(log.events().back().message == std::to_string(kEventLogCapacity + 49));
}

TEST_CASE("catalog events: node changes once each, apps, snapshot", "[apps][events][catalog]") {
  CatalogState c;
  REQUIRE(run(c, catalog_node_status("n1", "alive", 100)).body["recorded"] == true);
  CHECK(run(c, catalog_node_status("n1", "alive", 200)).body["recorded"] == false);
  REQUIRE(run(c, catalog_node_status("n1", "failed", 300)).body["recorded"] == true);
  REQUIRE(run(c, catalog_node_status("n1", "alive", 400)).body["recorded"] == true);
  REQUIRE(run(c, catalog_node_status("n1", "left", 500)).body["recorded"] == true);
  expect_error(run(c, catalog_node_status("n1", "sleepy", 600)), Status::Code::invalid_argument,
               "not alive, failed or left");
  REQUIRE(run(c, CatalogState::create_app("hello", {"n1"}, 700)).ok());
  REQUIRE(run(c, catalog_leader_changed("n2", 4, 800)).body["recorded"] == true);
  CHECK(run(c, catalog_leader_changed("n2", 4, 900)).body["recorded"] == false);
  REQUIRE(run(c, CatalogState::destroy_app("hello")).ok());
  CHECK(kinds(c.events()) == std::vector<std::string>{"node_joined", "node_failed",
                                                      "node_recovered", "node_left",
                                                      "app_created", "leader_changed",
                                                      "app_destroyed"});
  CHECK(c.events().events().back().time_ms == 900);  // destroy carries no time: the newest seen
  CatalogState d;
  REQUIRE(d.restore(c.snapshot()).ok());
  CHECK(d.catalog_events() == c.catalog_events());
  // An older snapshot without events restores empty.
  json old = json::from_msgpack(c.snapshot());
  old.erase("events");
  CatalogState e;
  REQUIRE(e.restore(json::to_msgpack(old)).ok());
  CHECK(e.events().events().empty());
}
