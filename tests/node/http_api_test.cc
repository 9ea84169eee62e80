// Tests of node/http_api against a fake AgentControl: routes, JSON shapes and error codes.
// (agent_cluster_test.cc runs the same API in front of real agents.)
#include <catch2/catch.hpp>

#include <mutex>

#include "node/api_client.h"
#include "node/http_api.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::node;
using nlohmann::json;

namespace {

gossip::Member member(const std::string& name, uint16_t port, gossip::MemberStatus status,
                      std::map<std::string, std::string> tags) {
  gossip::Member m;
  m.name = name;
  m.addr = *gossip::Address::parse("127.0.0.1", port);
  m.status = status;
  m.tags = std::move(tags);
  m.vsn = {1, 5, 2, 2, 5, 4};
  return m;
}

class FakeAgent : public AgentControl {
 public:
  Result<std::vector<gossip::Member>> members() override {
    std::lock_guard lock(mu);
    if (!down.ok()) return down;
    return list;
  }
  Result<SelfInfo> self() override {
    std::lock_guard lock(mu);
    SelfInfo s;
    s.member = list.front();
    s.node_id = "0123456789abcdef0123456789abcdef";
    s.profile = "local";
    s.stats.memberlist.packets_received = 7;
    return s;
  }
  Result<size_t> num_alive() override {
    std::lock_guard lock(mu);
    if (!down.ok()) return down;
    return size_t{2};
  }
  Result<std::vector<RecentEvent>> recent_events() override {
    RecentEvent e;
    e.seq = 1;
    e.node = "b";
    e.type = gossip::MemberEventType::join;
    e.status = gossip::MemberStatus::alive;
    return std::vector<RecentEvent>{e};
  }
  Result<JoinOutcome> join(const std::vector<gossip::Address>& addrs, bool replay) override {
    std::lock_guard lock(mu);
    joined_addrs = addrs;
    joined_replay = replay;
    JoinOutcome out;
    for (const auto& a : addrs) {
      if (a.port == 1) {
        out.errors.push_back("push-pull with " + a.to_string() + ": connection refused");
      } else {
        ++out.joined;
      }
    }
    return out;
  }
  Status leave() override {
    std::lock_guard lock(mu);
    left = true;
    return Status();
  }
  Status force_leave(const std::string& node, bool prune) override {
    std::lock_guard lock(mu);
    if (node != "b") return Status::not_found("no member named '" + node + "'");
    forced_prune = prune;
    return Status();
  }
  Result<std::map<std::string, std::string>> update_tags(const TagUpdate& u) override {
    std::lock_guard lock(mu);
    auto& tags = list.front().tags;
    for (const auto& k : u.remove) tags.erase(k);
    for (const auto& [k, v] : u.set) tags[k] = v;
    if (tags.count("huge")) return Status::invalid_argument("tags do not fit in 512 bytes");
    return tags;
  }
  // Two members: installing, using or listing works on both; removing fails on "b".
  Result<gossip::KeyReport> key_operation(gossip::KeyOp op, Bytes key) override {
    std::lock_guard lock(mu);
    ++key_calls;
    last_key_op = op;
    last_key = key;
    gossip::KeyReport r;
    r.num_nodes = 2;
    r.num_resp = 2;
    if (op == gossip::KeyOp::list) {
      r.keys = {{gossip::key_to_base64(Bytes(gossip::kKeySize, 1)), 2}};
      r.primary_keys = {{gossip::key_to_base64(Bytes(gossip::kKeySize, 1)), 2}};
    }
    if (op == gossip::KeyOp::remove) {
      r.num_err = 1;
      r.messages["b"] = "removing the primary key is not allowed";
    }
    return r;
  }

  std::mutex mu;
  std::vector<gossip::Member> list = {
      member("a", 7946, gossip::MemberStatus::alive, {{"role", "web"}}),
      member("b", 7947, gossip::MemberStatus::failed, {{"role", "db"}}),
  };
  Status down;
  std::vector<gossip::Address> joined_addrs;
  bool joined_replay = false;
  bool left = false;
  bool forced_prune = false;
  int key_calls = 0;
  gossip::KeyOp last_key_op = gossip::KeyOp::list;
  Bytes last_key;
};

struct Fixture {
  Fixture() {
    auto addr = *gossip::Address::parse("127.0.0.1", test::free_loopback_port());
    auto started = HttpApi::start(addr, agent);
    REQUIRE(started.ok());
    api = std::move(*started);
    client.emplace(*ApiClient::create("http://" + addr.to_string(), std::chrono::seconds(5)));
  }
  HttpResponse send(const std::string& method, const std::string& path,
                    const std::string& body = "") {
    auto r = client->send(method, path, body);
    REQUIRE(r.ok());
    return *r;
  }
  static json body_of(const HttpResponse& r) {
    auto j = json::parse(r.body, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    return j;
  }
  // Asserts the response is a JSON error with `status` whose message contains `needle`.
  void check_error(const HttpResponse& r, int status, const std::string& needle) {
    INFO(r.body);
    CHECK(r.status == status);
    auto j = body_of(r);
    REQUIRE(j.contains("error"));
    CHECK_THAT(j["error"].get<std::string>(), Catch::Contains(needle));
  }

  FakeAgent agent;
  std::unique_ptr<HttpApi> api;
  std::optional<ApiClient> client;
};

}  // namespace

TEST_CASE_METHOD(Fixture, "GET /v1/members lists and filters", "[node][http]") {
  auto all = client->call("GET", "/v1/members");
  REQUIRE(all.ok());
  REQUIRE((*all)["members"].size() == 2);
  const auto& a = (*all)["members"][0];
  CHECK(a["name"] == "a");
  CHECK(a["addr"] == "127.0.0.1:7946");
  CHECK(a["port"] == 7946);
  CHECK(a["status"] == "alive");
  CHECK(a["tags"]["role"] == "web");
  CHECK(a["protocol"]["max"] == 5);
  CHECK(a["delegate_protocol"]["cur"] == 4);

  auto failed = client->call("GET", "/v1/members", {{"status", "failed"}});
  REQUIRE(failed.ok());
  REQUIRE((*failed)["members"].size() == 1);
  CHECK((*failed)["members"][0]["name"] == "b");

  auto by_tag = client->call("GET", "/v1/members", {{"tag", "role=w.*"}, {"name", "a|b"}});
  REQUIRE(by_tag.ok());
  REQUIRE((*by_tag)["members"].size() == 1);
  CHECK((*by_tag)["members"][0]["name"] == "a");

  check_error(send("GET", "/v1/members?status=dead"), 400, "unknown member status 'dead'");
  check_error(send("GET", "/v1/members?tag=role%3D(x"), 400, "not a valid regular expression");
  check_error(send("GET", "/v1/members?tag=role"), 400, "key=value");
  check_error(send("GET", "/v1/members?colour=red"), 400, "unknown query parameter 'colour'");
}

TEST_CASE_METHOD(Fixture, "GET /v1/agent/self, /v1/health, /v1/events", "[node][http]") {
  auto self = client->call("GET", "/v1/agent/self");
  REQUIRE(self.ok());
  CHECK((*self)["name"] == "a");
  CHECK((*self)["id"] == "0123456789abcdef0123456789abcdef");
  CHECK((*self)["stats"]["packets_received"] == 7);
  CHECK((*self)["version"].is_string());

  auto health = client->call("GET", "/v1/health");
  REQUIRE(health.ok());
  CHECK(*health == json{{"status", "ok"}, {"members_alive", 2}});

  auto events = client->call("GET", "/v1/events");
  REQUIRE(events.ok());
  CHECK((*events)["events"][0]["type"] == "member-join");
  CHECK((*events)["events"][0]["node"] == "b");
}

TEST_CASE_METHOD(Fixture, "an agent that cannot answer is a 503", "[node][http]") {
  {
    std::lock_guard lock(agent.mu);
    agent.down = Status::timeout("the agent did not answer within 5000 ms");
  }
  check_error(send("GET", "/v1/health"), 503, "did not answer");
  check_error(send("GET", "/v1/members"), 503, "did not answer");
  auto st = client->call("GET", "/v1/members");
  CHECK(st.status().code() == Status::Code::unavailable);
}

TEST_CASE_METHOD(Fixture, "POST /v1/join", "[node][http]") {
  auto ok = send("POST", "/v1/join", R"({"addrs": ["127.0.0.1:7950", "127.0.0.2"], "replay": true})");
  CHECK(ok.status == 200);
  CHECK(body_of(ok) == json{{"joined", 2}, {"errors", json::array()}});
  CHECK(agent.joined_addrs.at(1).to_string() == "127.0.0.2:7946");  // default port
  CHECK(agent.joined_replay);

  auto partial = body_of(send("POST", "/v1/join", R"({"addrs": ["127.0.0.1:7950", "127.0.0.1:1"]})"));
  CHECK(partial["joined"] == 1);
  CHECK(partial["errors"].size() == 1);

  auto none = send("POST", "/v1/join", R"({"addrs": ["127.0.0.1:1"]})");
  check_error(none, 502, "connection refused");
  CHECK(body_of(none)["joined"] == 0);

  check_error(send("POST", "/v1/join", R"({"addrs": []})"), 400, "'addrs'");
  check_error(send("POST", "/v1/join", R"({"addrs": [7]})"), 400, "strings");
  check_error(send("POST", "/v1/join", R"({"addrs": ["example.com:1"]})"), 400, "example.com");
  check_error(send("POST", "/v1/join", R"({"addrs": ["127.0.0.1"], "replay": "yes"})"), 400,
              "'replay' must be a boolean");
  check_error(send("POST", "/v1/join", R"({"adrs": ["127.0.0.1"]})"), 400,
              "unknown field 'adrs'");
  check_error(send("POST", "/v1/join", R"({"addrs": ["127.0.0.1"],)"), 400, "not valid JSON");
  check_error(send("POST", "/v1/join", "[1]"), 400, "must be a JSON object");
  check_error(send("POST", "/v1/join", ""), 400, "empty");
}

TEST_CASE_METHOD(Fixture, "POST /v1/leave and /v1/force-leave", "[node][http]") {
  auto left = send("POST", "/v1/leave");
  CHECK(left.status == 200);
  CHECK(body_of(left) == json{{"left", true}});
  CHECK(agent.left);

  auto forced = send("POST", "/v1/force-leave", R"({"node": "b", "prune": true})");
  CHECK(forced.status == 200);
  CHECK(agent.forced_prune);
  check_error(send("POST", "/v1/force-leave", R"({"node": "zed"})"), 404, "'zed'");
  check_error(send("POST", "/v1/force-leave", R"({"node": ""})"), 400, "'node'");
  check_error(send("POST", "/v1/force-leave", R"({})"), 400, "'node'");
}

TEST_CASE_METHOD(Fixture, "PUT /v1/agent/tags", "[node][http]") {
  auto r = send("PUT", "/v1/agent/tags", R"({"set": {"zone": "b"}, "delete": ["role"]})");
  CHECK(r.status == 200);
  CHECK(body_of(r) == json{{"tags", {{"zone", "b"}}}});
  check_error(send("PUT", "/v1/agent/tags", R"({})"), 400, "nothing to change");
  check_error(send("PUT", "/v1/agent/tags", R"({"set": {"k": 1}})"), 400, "tag 'k' must be a string");
  check_error(send("PUT", "/v1/agent/tags", R"({"set": {"k": "v"}, "delete": ["k"]})"), 400,
              "both set and deleted");
  check_error(send("PUT", "/v1/agent/tags", R"({"set": {"huge": "v"}})"), 400, "512 bytes");
}

TEST_CASE_METHOD(Fixture, "unknown paths, wrong methods, big bodies", "[node][http]") {
  check_error(send("GET", "/v1/nothing"), 404, "no such endpoint: GET /v1/nothing");
  check_error(send("GET", "/nothing"), 404, "no such endpoint");
  auto root = send("GET", "/");  // the dashboard's
  CHECK(root.status == 302);
  CHECK(root.header("Location") == "/ui/");
  auto wrong = send("GET", "/v1/join");
  check_error(wrong, 405, "method GET is not allowed on /v1/join");
  CHECK(wrong.header("Allow") == "POST");
  check_error(send("DELETE", "/v1/members"), 405, "use GET");
  check_error(send("POST", "/v1/agent/tags", "{}"), 405, "use PUT");
  const std::string big(kDefaultHttpBodyLimit + 10, ' ');
  auto too_big = client->send("POST", "/v1/join", big);
  REQUIRE(too_big.ok());
  check_error(*too_big, 413, "larger than");
}

TEST_CASE_METHOD(Fixture, "GET /v1/keys and POST /v1/keys/install|use|remove", "[node][http][keyring]") {
  const Bytes key(gossip::kKeySize, 7);
  const std::string b64 = gossip::key_to_base64(key);

  auto list = send("GET", "/v1/keys");
  REQUIRE(list.status == 200);
  auto l = body_of(list);
  CHECK(l["op"] == "list-keys");
  CHECK(l["num_nodes"] == 2);
  CHECK(l["num_responses"] == 2);
  CHECK(l["keys"][gossip::key_to_base64(Bytes(gossip::kKeySize, 1))] == 2);
  CHECK_FALSE(l.contains("error"));

  auto installed = send("POST", "/v1/keys/install", json{{"key", b64}}.dump());
  REQUIRE(installed.status == 200);
  CHECK(body_of(installed)["op"] == "install-key");
  CHECK(agent.last_key_op == gossip::KeyOp::install);
  CHECK(agent.last_key == key);
  CHECK(send("POST", "/v1/keys/use", json{{"key", b64}}.dump()).status == 200);
  CHECK(agent.last_key_op == gossip::KeyOp::use);

  // A member failed: 502, the whole report, and which member said what.
  auto removed = send("POST", "/v1/keys/remove", json{{"key", b64}}.dump());
  CHECK(removed.status == 502);
  auto r = body_of(removed);
  CHECK(r["error"] == "1/2 nodes reported failure");
  CHECK(r["num_errors"] == 1);
  CHECK(r["messages"]["b"] == "removing the primary key is not allowed");
}

TEST_CASE_METHOD(Fixture, "bad keys are a 400 naming the problem, and ask no member",
                 "[node][http][keyring]") {
  check_error(send("POST", "/v1/keys/install", json{{"key", "not base64!"}}.dump()), 400,
              "field 'key': key is not valid base64");
  check_error(send("POST", "/v1/keys/use", json{{"key", gossip::key_to_base64(Bytes(16, 1))}}.dump()),
              400, "field 'key': key is 16 bytes (AES-128)");
  check_error(send("POST", "/v1/keys/remove", json{{"key", gossip::key_to_base64(Bytes(5, 1))}}.dump()),
              400, "key is 5 bytes");
  check_error(send("POST", "/v1/keys/install", json{{"key", ""}}.dump()), 400, "key is 0 bytes");
  check_error(send("POST", "/v1/keys/install", json{{"key", 32}}.dump()), 400,
              "field 'key' must be a base64 string, not number");
  check_error(send("POST", "/v1/keys/install", "{}"), 400,
              "field 'key' must be a base64 string, not missing");
  check_error(send("POST", "/v1/keys/install", ""), 400, "request body is empty");
  check_error(send("POST", "/v1/keys/install", "[1]"), 400, "must be a JSON object");
  check_error(send("POST", "/v1/keys/install", "{\"key\": "), 400, "not valid JSON");
  check_error(send("POST", "/v1/keys/install",
                   json{{"key", gossip::key_to_base64(Bytes(32, 1))}, {"primary", true}}.dump()),
              400, "unknown field 'primary'");
  check_error(send("GET", "/v1/keys?all=1"), 400, "unknown query parameter 'all'");
  check_error(send("POST", "/v1/keys/rotate", "{}"), 404, "no such endpoint");
  check_error(send("GET", "/v1/keys/install"), 405, "use POST");
  CHECK(agent.key_calls == 0);
}

TEST_CASE("ApiClient reports an unreachable agent and bad addresses", "[node][http]") {
  auto c = ApiClient::create("127.0.0.1:" + std::to_string(test::free_loopback_port()),
                             std::chrono::seconds(2));
  REQUIRE(c.ok());
  auto r = c->call("GET", "/v1/health");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::unavailable);
  CHECK_THAT(r.status().message(), Catch::Contains("cannot reach the agent at http://127.0.0.1:"));
  CHECK_FALSE(ApiClient::create("ftp://x:1").ok());
  CHECK_FALSE(ApiClient::create("http://x:1/v1").ok());
  CHECK_FALSE(ApiClient::create("x:70000").ok());
  CHECK(ApiClient::create("http://[::1]:9000")->base_url() == "http://[::1]:9000");
  CHECK(ApiClient::create("localhost")->base_url() == "http://localhost:8080");
  // https when asked, and for a bare address off loopback (an agent there speaks TLS).
  CHECK(ApiClient::create("https://127.0.0.1:9000")->uses_tls());
  CHECK(ApiClient::create("https://x:1")->base_url() == "https://x:1");
  CHECK(ApiClient::create("10.0.0.5:8080")->base_url() == "https://10.0.0.5:8080");
  CHECK(ApiClient::create("node-b")->uses_tls());
  CHECK_FALSE(ApiClient::create("127.0.0.2:8080")->uses_tls());
  CHECK_FALSE(ApiClient::create("[::1]:8080")->uses_tls());
}
