// One real `shoal agent` process at a time: its API, its signals, its data dir lock.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "node/data_dir.h"
#include "node/http_client.h"
#include "node/secure/cluster_secret.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::test;
using nlohmann::json;

namespace {

void require_healthy(AgentProcess& a) {
  INFO(a.log());
  REQUIRE(a.wait_healthy(15s));
}

}  // namespace

TEST_CASE("agent: answers the API, and SIGTERM leaves and exits 0", "[node][agent][process]") {
  auto a = AgentProcess::start("solo", {"--tag", "role=web"});
  require_healthy(*a);
  auto client = a->client();

  auto self = client.call("GET", "/v1/agent/self");
  REQUIRE(self.ok());
  CHECK((*self)["name"] == "solo");
  CHECK((*self)["addr"] == a->gossip_addr());
  CHECK((*self)["tags"]["role"] == "web");
  CHECK((*self)["status"] == "alive");
  CHECK((*self)["id"].get<std::string>().size() == 32);
  CHECK((*self)["profile"] == "local");

  auto members = client.call("GET", "/v1/members");
  REQUIRE(members.ok());
  REQUIRE((*members)["members"].size() == 1);

  // Error shapes from the real agent, not a fake.
  auto bad = client.send("POST", "/v1/join", "{nope");
  REQUIRE(bad.ok());
  CHECK(bad->status == 400);
  CHECK_THAT(json::parse(bad->body)["error"].get<std::string>(), Catch::Contains("not valid JSON"));
  auto refused = client.call("POST", "/v1/join", {},
                             std::make_unique<json>(json{{"addrs", {"127.0.0.1:1"}}}).get());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == Status::Code::unavailable);  // 502: nobody answered
  CHECK_THAT(refused.status().message(), Catch::Contains("127.0.0.1:1"));
  auto unknown = client.call("POST", "/v1/force-leave", {},
                             std::make_unique<json>(json{{"node", "ghost"}}).get());
  CHECK(unknown.status().code() == Status::Code::not_found);

  json tags = {{"set", {{"zone", "z1"}}}, {"delete", {"role"}}};
  auto updated = client.call("PUT", "/v1/agent/tags", {}, &tags);
  REQUIRE(updated.ok());
  // The apps layer adds its own tags (http, mem, cat); a user's edit leaves them be.
  const auto user_view = [](json t) {
    for (const char* own : {"http", "mem", "cat"}) t.erase(own);
    return t;
  };
  CHECK(user_view((*updated)["tags"]) == json{{"zone", "z1"}});
  CHECK((*updated)["tags"].contains("http"));
  auto self2 = client.call("GET", "/v1/agent/self");
  REQUIRE(self2.ok());
  CHECK(user_view((*self2)["tags"]) == json{{"zone", "z1"}});

  auto code = a->terminate(20s);
  INFO(a->log());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK_THAT(a->log(), Catch::Contains("agent-leave reason=\"SIGTERM\""));
}

TEST_CASE("agent: --rpc serves Raft and the peer API, --http keeps /v1/internal to peers",
          "[node][agent][process]") {
  auto a = AgentProcess::start("rpc-port");
  require_healthy(*a);
  auto ring = node::secure::load_keyring(test_cluster_secret_file());
  REQUIRE(ring.ok());
  // A peer: the node-to-node channel, keyed with the cluster secret.
  auto peer_get = [&](const std::string& target, bool keyed) {
    node::HttpExchange ex;
    ex.method = "GET";
    ex.target = target;
    ex.timeout = 5s;
    if (keyed) ex.keys = std::make_shared<node::secure::Keyring>(*ring);
    return node::http_request("127.0.0.1", a->rpc_port(), ex);
  };
  auto self = peer_get("/v1/agent/self", true);
  INFO((self.ok() ? std::string() : self.status().to_string()) + "\n" + a->log());
  REQUIRE(self.ok());
  CHECK(self->status == 200);
  CHECK(nlohmann::json::parse(self->body)["name"] == "rpc-port");

  auto public_internal = a->client().send("GET", "/v1/internal/catalog", "");
  REQUIRE(public_internal.ok());
  CHECK(public_internal->status == 404);
  auto peer_internal = peer_get("/v1/internal/catalog", true);
  REQUIRE(peer_internal.ok());
  CHECK(peer_internal->status != 404);
  // The same request in plaintext is no peer's: refused before it is read.
  CHECK_FALSE(peer_get("/v1/internal/catalog", false).ok());

  // A first byte that is neither a Raft frame's nor an HTTP method's: closed, nothing else.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(a->rpc_port()));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(::send(fd, "\x7fjunk", 5, MSG_NOSIGNAL) == 5);
  char buf[16];
  // Closed with our bytes unread, so a reset rather than EOF; either way not a timeout.
  const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
  const int err = errno;
  CHECK((got == 0 || (got < 0 && err == ECONNRESET)));
  ::close(fd);
  CHECK(peer_get("/v1/agent/self", true).ok());
  CHECK_THAT(a->log(), Catch::Contains("a plaintext HTTP request, refused"));
}

TEST_CASE("agent: POST /v1/leave answers, then the agent exits 0", "[node][agent][process]") {
  auto a = AgentProcess::start("leaver");
  require_healthy(*a);
  auto client = a->client();
  auto r = client.call("POST", "/v1/leave");
  REQUIRE(r.ok());
  CHECK((*r)["left"] == true);
  auto code = a->wait_for_exit(15s);
  INFO(a->log());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

TEST_CASE("agent: a held data dir is refused, kill -9 leaves nothing behind",
          "[node][agent][process]") {
  auto a = AgentProcess::start("locked");
  require_healthy(*a);
  const auto id = (*a->client().call("GET", "/v1/agent/self"))["id"];

  // A second agent on the same data dir (other ports) refuses, naming the dir.
  auto other = run_command({"agent", "--node", "locked", "--bind",
                            "127.0.0.1:" + std::to_string(free_loopback_port()), "--http",
                            "127.0.0.1:" + std::to_string(free_loopback_port()), "--data-dir",
                            a->data_dir().string(), "--router", "off"},
                           20s);
  CHECK(other.exit_code == 1);
  CHECK_THAT(other.err, Catch::Contains("is in use by another agent"));

  a->kill9();
  a->restart();
  require_healthy(*a);
  CHECK((*a->client().call("GET", "/v1/agent/self"))["id"] == id);  // same node id
  CHECK(a->terminate(20s) == 0);
}

TEST_CASE("agent: a --join peer that never answers ends in an error after --retry-max",
          "[node][agent][process]") {
  const int dead_port = free_loopback_port();
  auto a = AgentProcess::start(
      "lonely", {"--join", "127.0.0.1:" + std::to_string(dead_port), "--retry-max", "2"});
  auto code = a->wait_for_exit(30s);
  INFO(a->log());
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  CHECK_THAT(a->log(), Catch::Contains("join-failed attempt=2"));
}
