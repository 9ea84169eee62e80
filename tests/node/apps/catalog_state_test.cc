// Tests of node/apps/catalog_state (and the command/result envelope of command_result):
// every command, every error, determinism, snapshot round trip and garbage refused.
#include "node/apps/catalog_state.h"

#include <catch2/catch.hpp>

#include "node/apps/group_ids.h"
#include "tests/node/apps/apps_test_util.h"

using namespace shoal;
using namespace shoal::node::apps;
using namespace shoal::node::apps::test;
using json = nlohmann::json;

TEST_CASE("catalog: create_app hands out groups from seq 1, never reused", "[apps][catalog]") {
  CatalogState c;
  auto a = run(c, CatalogState::create_app("hello", {"n1", "n2", "n3"}, 1000));
  REQUIRE(a.ok());
  CHECK(a.body["group"] == app_group(1));
  CHECK(a.body["name"] == "hello");
  REQUIRE(c.app("hello") != nullptr);
  CHECK(c.app("hello")->replicas == std::vector<std::string>{"n1", "n2", "n3"});
  CHECK(c.app("hello")->created_ms == 1000);
  CHECK(c.app_of_group(app_group(1)) == "hello");

  REQUIRE(run(c, CatalogState::destroy_app("hello")).body["group"] == app_group(1));
  CHECK(c.app("hello") == nullptr);
  CHECK_FALSE(c.app_of_group(app_group(1)));
  auto again = run(c, CatalogState::create_app("hello", {"n1"}, 2000));
  REQUIRE(again.ok());
  CHECK(again.body["group"] == app_group(2));
  CHECK(c.next_app_seq() == 3);
}

TEST_CASE("catalog: create_app errors change nothing", "[apps][catalog]") {
  CatalogState c;
  REQUIRE(run(c, CatalogState::create_app("hello", {"n1"}, 1)).ok());
  const Bytes before = c.snapshot();
  expect_error(run(c, CatalogState::create_app("hello", {"n2"}, 2)), Status::Code::already_exists,
               "app 'hello' already exists");
  expect_error(run(c, CatalogState::create_app("Bad_Name", {"n1"}, 2)),
               Status::Code::invalid_argument, "DNS label");
  expect_error(run(c, CatalogState::create_app("b", {}, 2)), Status::Code::invalid_argument,
               "1 to 7 replicas");
  expect_error(run(c, CatalogState::create_app("b", {"n1", "n1"}, 2)),
               Status::Code::invalid_argument, "'n1' is listed twice");
  expect_error(run(c, CatalogState::create_app("b", {"a/b"}, 2)), Status::Code::invalid_argument,
               "node name 'a/b'");
  expect_error(run(c, encode_command({{"op", "create_app"}, {"name", "b"}, {"replicas", {"n1"}}})),
               Status::Code::invalid_argument, "'now_ms' is missing");
  expect_error(run(c, encode_command({{"op", "create_app"}, {"name", 7}})),
               Status::Code::invalid_argument, "'name' must be a string");
  CHECK(c.snapshot() == before);
}

TEST_CASE("catalog: destroy_app and set_replicas of an unknown app", "[apps][catalog]") {
  CatalogState c;
  expect_error(run(c, CatalogState::destroy_app("nope")), Status::Code::not_found, "no app 'nope'");
  expect_error(run(c, CatalogState::set_replicas("nope", {"n1"})), Status::Code::not_found,
               "no app 'nope'");
  REQUIRE(run(c, CatalogState::create_app("a", {"n1"}, 1)).ok());
  auto r = run(c, CatalogState::set_replicas("a", {"n3", "n2"}));
  REQUIRE(r.ok());
  CHECK(r.body["replicas"] == json{"n3", "n2"});
  CHECK(c.app("a")->replicas == std::vector<std::string>{"n3", "n2"});
  expect_error(run(c, CatalogState::set_replicas("a", {"n1", "n1"})),
               Status::Code::invalid_argument, "twice");
  CHECK(c.app("a")->replicas == std::vector<std::string>{"n3", "n2"});
}

TEST_CASE("catalog: drain marks", "[apps][catalog]") {
  CatalogState c;
  auto r = run(c, CatalogState::set_drain("n2", true));
  REQUIRE(r.ok());
  CHECK(r.body["draining"] == true);
  CHECK(c.draining("n2"));
  CHECK_FALSE(c.draining("n1"));
  REQUIRE(run(c, CatalogState::set_drain("n2", false)).ok());
  CHECK_FALSE(c.draining("n2"));
  CHECK(c.node_marks().empty());
  expect_error(run(c, CatalogState::set_drain("", true)), Status::Code::invalid_argument,
               "node name");
  expect_error(run(c, encode_command({{"op", "set_drain"}, {"node", "n1"}, {"draining", "yes"}})),
               Status::Code::invalid_argument, "'draining' must be true or false");
}

TEST_CASE("catalog: settings", "[apps][catalog]") {
  CatalogState c;
  REQUIRE(run(c, CatalogState::set_setting("voters", "3")).ok());
  CHECK(c.setting("voters") == "3");
  REQUIRE(run(c, CatalogState::set_setting("voters", "5")).ok());
  CHECK(c.setting("voters") == "5");
  expect_error(run(c, CatalogState::set_setting("", "x")), Status::Code::invalid_argument, "empty");
  expect_error(run(c, CatalogState::set_setting("big", std::string(70000, 'x'))),
               Status::Code::invalid_argument, "at most 65536 bytes");
  REQUIRE(run(c, CatalogState::remove_setting("voters")).ok());
  CHECK_FALSE(c.setting("voters"));
  expect_error(run(c, CatalogState::remove_setting("voters")), Status::Code::not_found,
               "no setting 'voters'");
}

TEST_CASE("catalog: services", "[apps][catalog]") {
  CatalogState c;
  ServiceRecord db{"postgres", "n2", "127.0.0.1:5432", json{{"version", "15"}}};
  REQUIRE(run(c, CatalogState::put_service("db", db)).ok());
  REQUIRE(c.services().contains("db"));
  CHECK(c.services().at("db") == db);
  db.node = "n3";
  REQUIRE(run(c, CatalogState::put_service("db", db)).ok());
  CHECK(c.services().at("db").node == "n3");
  expect_error(run(c, CatalogState::put_service("DB!", db)), Status::Code::invalid_argument,
               "service name 'DB!'");
  expect_error(run(c, CatalogState::put_service("x", ServiceRecord{"", "n1", "", json::object()})),
               Status::Code::invalid_argument, "kind");
  expect_error(
      run(c, CatalogState::put_service("x", ServiceRecord{"redis", "n1", "", json::array()})),
      Status::Code::invalid_argument, "'spec' must be an object");
  REQUIRE(run(c, CatalogState::remove_service("db")).ok());
  CHECK(c.services().empty());
  expect_error(run(c, CatalogState::remove_service("db")), Status::Code::not_found,
               "no service 'db'");
}

TEST_CASE("catalog: bad command bytes are an error result, never a crash", "[apps][catalog]") {
  CatalogState c;
  REQUIRE(run(c, CatalogState::create_app("a", {"n1"}, 1)).ok());
  const Bytes before = c.snapshot();
  expect_error(run(c, {}), Status::Code::invalid_argument, "empty command");
  expect_error(run(c, {0xc1}), Status::Code::invalid_argument, "not valid msgpack");
  expect_error(run(c, json::to_msgpack(json::array({1, 2}))), Status::Code::invalid_argument,
               "not a msgpack map");
  expect_error(run(c, encode_command({{"op", "explode"}})), Status::Code::invalid_argument,
               "unknown catalog command 'explode'");
  expect_error(run(c, encode_command({{"name", "a"}})), Status::Code::invalid_argument,
               "'op' is missing");
  // Truncations of a good command, and every single-byte corruption of one.
  const Bytes good = CatalogState::create_app("zz", {"n1", "n2"}, 5);
  for (size_t n = 0; n < good.size(); ++n) {
    (void)c.apply(entry(Bytes(good.begin(), good.begin() + static_cast<long>(n))));
    Bytes bad = good;
    bad[n] ^= 0xff;
    (void)c.apply(entry(bad));
  }
  CHECK(c.app("a") != nullptr);
  CHECK(c.apps().size() <= 3);
}

TEST_CASE("catalog: two machines fed the same entries agree byte for byte", "[apps][catalog]") {
  std::vector<Bytes> log = {
      CatalogState::create_app("a", {"n1", "n2", "n3"}, 10),
      CatalogState::create_app("b", {"n2"}, 11),
      CatalogState::create_app("a", {"n1"}, 12),  // an error: applied as a no-op
      CatalogState::set_drain("n3", true),
      CatalogState::set_setting("k", "v"),
      CatalogState::put_service("db", {"postgres", "n1", "", json{{"size", 1}}}),
      CatalogState::destroy_app("a"),
      CatalogState::set_replicas("b", {"n2", "n1"}),
      Bytes{0x01, 0x02},
  };
  CatalogState x, y;
  for (const auto& cmd : log) CHECK(x.apply(entry(cmd)) == y.apply(entry(cmd)));
  CHECK(x.snapshot() == y.snapshot());
}

TEST_CASE("catalog: snapshot round trip, garbage refused", "[apps][catalog]") {
  CatalogState c;
  REQUIRE(run(c, CatalogState::create_app("a", {"n1", "n2"}, 10)).ok());
  REQUIRE(run(c, CatalogState::create_app("b", {"n2"}, 11)).ok());
  REQUIRE(run(c, CatalogState::destroy_app("a")).ok());
  REQUIRE(run(c, CatalogState::set_drain("n3", true)).ok());
  REQUIRE(run(c, CatalogState::set_setting("k", "v")).ok());
  REQUIRE(run(c, CatalogState::put_service("db", {"postgres", "n1", "h:1", json{{"x", 1}}})).ok());
  const Bytes snap = c.snapshot();

  CatalogState d;
  REQUIRE(d.restore(snap).ok());
  CHECK(d.snapshot() == snap);
  CHECK(d.apps() == c.apps());
  CHECK(d.next_app_seq() == 3);
  CHECK(d.draining("n3"));
  CHECK(d.services() == c.services());
  CHECK(d.setting("k") == "v");
  // The restored machine goes on handing out fresh seqs.
  CHECK(run(d, CatalogState::create_app("a", {"n1"}, 12)).body["group"] == app_group(3));

  CatalogState e;
  REQUIRE(run(e, CatalogState::create_app("keep", {"n1"}, 1)).ok());
  const Bytes e_before = e.snapshot();
  Status s = e.restore(Bytes{0xc1, 0x00});
  CHECK(s.is(Status::Code::corruption));
  CHECK_THAT(s.message(), Catch::Contains("not valid msgpack"));
  s = e.restore(json::to_msgpack(json{{"version", 9}}));
  CHECK_THAT(s.message(), Catch::Contains("version"));
  json wrong = json::from_msgpack(snap);
  wrong["apps"]["b"]["replicas"] = "n1";
  s = e.restore(json::to_msgpack(wrong));
  CHECK_THAT(s.message(), Catch::Contains("app 'b'") && Catch::Contains("'replicas'"));
  wrong = json::from_msgpack(snap);
  wrong["apps"]["b"]["group"] = 5;
  CHECK_THAT(e.restore(json::to_msgpack(wrong)).message(), Catch::Contains("not an app group"));
  wrong = json::from_msgpack(snap);
  wrong.erase("settings");
  CHECK_THAT(e.restore(json::to_msgpack(wrong)).message(),
             Catch::Contains("'settings' is missing"));
  CHECK(e.snapshot() == e_before);

  REQUIRE(e.restore({}).ok());  // a new group's empty snapshot
  CHECK(e.apps().empty());
  CHECK(e.next_app_seq() == 1);
}

TEST_CASE("decode_result maps error codes to Status codes", "[apps][catalog]") {
  CHECK(decode_result(ok_result({{"x", 1}})).body["x"] == 1);
  CHECK(
      decode_result(error_result(ErrorCode::exists, "m")).status.is(Status::Code::already_exists));
  CHECK(decode_result(error_result(ErrorCode::not_found, "m")).status.is(Status::Code::not_found));
  CHECK(decode_result(error_result(ErrorCode::invalid, "m"))
            .status.is(Status::Code::invalid_argument));
  CHECK(decode_result(error_result(ErrorCode::conflict, "m"))
            .status.is(Status::Code::failed_precondition));
  CHECK(decode_result(error_result(ErrorCode::conflict, "m")).body["code"] == "conflict");
  CHECK(decode_result({}).status.is(Status::Code::corruption));
  CHECK(decode_result(Bytes{0x93, 1, 2, 3}).status.is(Status::Code::corruption));
  CHECK(decode_result(json::to_msgpack(json{{"ok", false}})).status.is(Status::Code::corruption));
  CHECK(decode_result(json::to_msgpack(json{{"error", "e"}, {"code", "weird"}}))
            .status.is(Status::Code::corruption));
}
