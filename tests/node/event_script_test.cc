// Tests of node/event_script: the environment and stdin a handler gets, byte for byte as
// serf's agent writes them (invoke.go), plus the SHOAL_* aliases.
#include <catch2/catch.hpp>

#include <map>

#include "node/event_script.h"

using namespace shoal;
using namespace shoal::node;

namespace {

gossip::Member member(std::string name, std::string addr,
                      std::map<std::string, std::string> tags) {
  gossip::Member m;
  m.name = std::move(name);
  m.addr = *gossip::Address::parse(addr);
  m.tags = std::move(tags);
  m.status = gossip::MemberStatus::alive;
  return m;
}

std::map<std::string, std::string> env_of(const ScriptInput& in) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : in.env) out[k] = v;  // later wins, as for the child
  return out;
}

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

const gossip::Member kSelf =
    member("node-1", "10.0.0.1:7946", {{"role", "web"}, {"zone.name", "a"}, {"rpc-port", "7"}});

}  // namespace

TEST_CASE("event script: a member event gives one tab-separated line per member",
          "[node][event-handler]") {
  gossip::MemberEventBatch batch;
  batch.type = gossip::MemberEventType::join;
  batch.members.push_back(member("web-1", "127.0.0.1:7950", {{"role", "web"}, {"dc", "x"}}));
  batch.members.push_back(member("bare", "[::1]:7951", {}));
  batch.members.push_back(
      member("odd\tname\n", "10.1.2.3:1", {{"role", "a\tb"}, {"note", "x\ny"}}));
  const ScriptInput in = render_script_input(batch, kSelf);
  CHECK(in.stdin_data ==
        "web-1\t127.0.0.1\tweb\tdc=x,role=web\n"
        "bare\t::1\t\t\n"
        "odd\\tname\\n\t10.1.2.3\ta\\tb\tnote=x\\ny,role=a\\tb\n");
  const auto env = env_of(in);
  CHECK(env.at("SERF_EVENT") == "member-join");
  CHECK(env.at("SHOAL_EVENT") == "member-join");
  CHECK(env.at("SERF_SELF_NAME") == "node-1");
  CHECK(env.at("SHOAL_SELF_NAME") == "node-1");
  CHECK(env.at("SERF_SELF_ROLE") == "web");
  CHECK(env.at("SERF_TAG_ROLE") == "web");
  CHECK(env.at("SERF_TAG_ZONE_NAME") == "a");
  CHECK(env.at("SERF_TAG_RPC_PORT") == "7");
  CHECK(env.at("SHOAL_TAG_ZONE_NAME") == "a");
  CHECK(env.count("SERF_USER_EVENT") == 0);
  CHECK(env.count("SERF_QUERY_NAME") == 0);
  CHECK(describe(batch) == "member-join");

  for (auto [type, name] : {std::pair{gossip::MemberEventType::leave, "member-leave"},
                            std::pair{gossip::MemberEventType::failed, "member-failed"},
                            std::pair{gossip::MemberEventType::update, "member-update"},
                            std::pair{gossip::MemberEventType::reap, "member-reap"}}) {
    batch.type = type;
    CHECK(env_of(render_script_input(batch, kSelf)).at("SERF_EVENT") == name);
  }
}

TEST_CASE("event script: a user event gives its name, Lamport time and payload",
          "[node][event-handler]") {
  gossip::UserEvent ev{42, "deploy", bytes("v1.2"), true};
  const ScriptInput in = render_script_input(ev, kSelf);
  CHECK(in.stdin_data == "v1.2\n");  // a newline is added, as serf does
  const auto env = env_of(in);
  CHECK(env.at("SERF_EVENT") == "user");
  CHECK(env.at("SERF_USER_EVENT") == "deploy");
  CHECK(env.at("SERF_USER_LTIME") == "42");
  CHECK(env.at("SHOAL_USER_EVENT") == "deploy");
  CHECK(env.at("SHOAL_USER_LTIME") == "42");
  CHECK(describe(ev) == "user:deploy");

  ev.payload = bytes("two\nlines\n");
  CHECK(render_script_input(ev, kSelf).stdin_data == "two\nlines\n");  // no second newline
  ev.payload.clear();
  CHECK(render_script_input(ev, kSelf).stdin_data.empty());
}

TEST_CASE("event script: a query gives its name, Lamport time and payload",
          "[node][event-handler]") {
  gossip::QueryReceived q;
  q.ltime = 7;
  q.name = "uptime";
  q.payload = bytes("please");
  const ScriptInput in = render_script_input(q, kSelf);
  CHECK(in.stdin_data == "please\n");
  const auto env = env_of(in);
  CHECK(env.at("SERF_EVENT") == "query");
  CHECK(env.at("SERF_QUERY_NAME") == "uptime");
  CHECK(env.at("SERF_QUERY_LTIME") == "7");
  CHECK(env.at("SHOAL_QUERY_NAME") == "uptime");
  CHECK(env.at("SHOAL_QUERY_LTIME") == "7");
  CHECK(env.count("SERF_USER_EVENT") == 0);
  CHECK(describe(q) == "query:uptime");
  CHECK(kind_of(q) == EventKind::query);
  CHECK(name_of(q) == "uptime");
}

TEST_CASE("event script: tag names become environment names as serf makes them",
          "[node][event-handler]") {
  CHECK(tag_env_suffix("role") == "ROLE");
  CHECK(tag_env_suffix("Zone-Name.v2") == "ZONE_NAME_V2");
  CHECK(tag_env_suffix("a b") == "A_B");
  CHECK(tag_env_suffix("caf\xc3\xa9") == "CAF_");  // one '_' per character, as serf
  gossip::Member no_role = member("n", "10.0.0.1:1", {});
  const auto env = env_of(render_script_input(gossip::UserEvent{1, "e", {}, false}, no_role));
  CHECK(env.at("SERF_SELF_ROLE").empty());
}
