// Issue 9, the routing mesh end to end: a 3-node loopback cluster serves its apps through
// every node's router. An app with instances on two nodes answers through the third node;
// unknown hosts get a 404 naming the host, an app without instances a 503 with Retry-After;
// WebSocket passes through; and a rolling deploy, then the kill of an instance, then the
// kill of a whole node, under a client loop through the router fail no more than the
// requests in flight to what was killed.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <set>
#include <string>
#include <thread>

#include "node/http_client.h"
#include "tests/integration/apps_cluster.h"
#include "tests/integration/request_loop.h"
#include "tests/integration/router_helpers.h"
#include "tests/support/process.h"

namespace shoal::test {
namespace {

// A bare TCP connection for the WebSocket exchange (the HTTP client does not upgrade).
class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawSocket() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size());
  }
  // Reads until `want` bytes (or the end of the head, "\r\n\r\n", when want == 0).
  std::string read(size_t want) {
    std::string got;
    char buf[4096];
    while (want ? got.size() < want : got.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd_, buf, want ? std::min(sizeof buf, want - got.size()) : 1, 0);
      if (n <= 0) break;
      got.append(buf, size_t(n));
    }
    return got;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// A masked client text frame (RFC 6455 5.2), payload under 126 bytes.
std::string ws_text_frame(const std::string& text) {
  const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
  std::string f;
  f += char(0x81);
  f += char(0x80 | text.size());
  for (unsigned char m : mask) f += char(m);
  for (size_t i = 0; i < text.size(); ++i) f += char(text[i] ^ mask[i % 4]);
  return f;
}

}  // namespace

TEST_CASE("router: any node serves an app by Host, 404 for an unknown host, 503 without "
          "instances, WebSocket passes through",
          "[integration][router]") {
  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];

  auto dep = c.cli(n0, {"deploy", (source_dir() / "examples/python-web").string(), "--app", "rtweb"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  json ps;
  REQUIRE(wait_for(30s, [&] {
    ps = c.ps(n0, "rtweb");
    return web_up(ps).size() == 2;
  }));
  // The node that runs none of the two instances (the scheduler spreads them).
  std::set<std::string> hosting;
  for (const auto& i : web_up(ps)) hosting.insert(i.value("node", ""));
  REQUIRE(hosting.size() == 2);
  AgentProcess* third = nullptr;
  for (auto& a : c.agents) {
    if (!hosting.count(a->name())) third = a.get();
  }
  REQUIRE(third != nullptr);
  REQUIRE(wait_for(30s, [&] { return routed_backends(*third, "rtweb") == 2; }));
  // python-web has no health check, so "running" comes before it listens: both must listen
  // before every request through the router can succeed.
  for (const auto& i : web_up(ps)) REQUIRE(get_port(i.value("port", 0)).ok());

  // Both instances answer through the third node's router, by Host (any case, any port).
  std::set<std::string> served_by;
  for (int i = 0; i < 40; ++i) {
    auto r = via_router(*third, i % 2 ? "rtweb.localhost" : "RTWEB.LocalHost:8000");
    REQUIRE(r.ok());
    INFO(r->body);
    REQUIRE(r->status == 200);
    served_by.insert(json::parse(r->body).value("instance", ""));
    CHECK(!r->header("X-Request-Id").empty());
  }
  CHECK(served_by.size() == 2);

  // An unknown host: a page naming it, as JSON when asked.
  auto unknown = via_router(*third, "nope.localhost");
  REQUIRE(unknown.ok());
  CHECK(unknown->status == 404);
  CHECK(unknown->body.find("nope.localhost") != std::string::npos);
  auto unknown_json = via_router(*third, "nope.localhost", "/", "application/json");
  REQUIRE(unknown_json.ok());
  CHECK(unknown_json->status == 404);
  CHECK(json::parse(unknown_json->body).value("error", "").find("nope.localhost") !=
        std::string::npos);

  // WebSocket: the upgrade and an echoed message through the router of a node.
  auto ws = c.cli(n0, {"deploy", (source_dir() / "examples/ws-echo").string(), "--app", "rtws"});
  INFO(ws.out << ws.err);
  REQUIRE(ws.exit_code == 0);
  REQUIRE(wait_for(30s, [&] { return routed_backends(*third, "rtws") == 2; }));
  for (const auto& i : web_up(c.ps(n0, "rtws"))) REQUIRE(get_port(i.value("port", 0)).ok());
  {
    RawSocket s(third->router_port());
    REQUIRE(s.connected());
    REQUIRE(s.send("GET /ws HTTP/1.1\r\nHost: rtws.localhost\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n"));
    const std::string head = s.read(0);
    INFO(head);
    REQUIRE(head.rfind("HTTP/1.1 101", 0) == 0);
    CHECK(head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos);  // RFC 6455's example
    REQUIRE(s.send(ws_text_frame("hello through the mesh")));
    const std::string frame = s.read(2 + 22);
    REQUIRE(frame.size() == 24);
    CHECK(static_cast<unsigned char>(frame[0]) == 0x81);
    CHECK(frame.substr(2) == "hello through the mesh");
  }

  // No instance left: 503 with Retry-After, on every node.
  REQUIRE(c.cli(n0, {"scale", "rtweb", "web=0"}).exit_code == 0);
  for (auto& a : c.agents) {
    REQUIRE(wait_for(30s, [&] {
      auto r = via_router(*a, "rtweb.localhost");
      return r.ok() && r->status == 503;
    }));
    auto r = via_router(*a, "rtweb.localhost");
    REQUIRE(r.ok());
    CHECK(!r->header("Retry-After").empty());
  }

  // What the routers counted shows in /v1/router/traffic and /metrics.
  auto traffic = third->client(3s).call("GET", "/v1/router/traffic");
  REQUIRE(traffic.ok());
  bool counted = false;
  for (const auto& a : (*traffic)["apps"]) {
    if (a.value("app", "") == "rtweb") counted = a.value("requests", 0) >= 40;
  }
  CHECK(counted);
}

TEST_CASE("router: a rolling deploy, the kill of an instance and the kill of a node under a "
          "client loop through the router",
          "[integration][router][rolling]") {
  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];
  const fs::path app = c.scratch / "app";
  write_health_web(app, "");
  auto dep = c.cli(n0, {"deploy", app.string(), "--app", "rtroll"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  AgentProcess& via = *c.agents[2];
  REQUIRE(wait_for(30s, [&] { return routed_backends(via, "rtroll") == 3; }));

  RequestLoop loop(through_router(via, "rtroll.localhost"), 20ms, 240s);
  REQUIRE(wait_for(10s, [&] { return loop.ok() >= 30; }));

  // v2 rolls out: routes take each new instance once it is healthy and drop each old one
  // before it is told to stop, so no request fails.
  write_health_web(app, "RELEASE_NOTE = \"two\"\n");
  dep = c.cli(n0, {"deploy", app.string(), "--app", "rtroll"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  REQUIRE(wait_for(60s, [&] {
    json ps = c.ps(n0, "rtroll");
    auto up = web_up(ps);
    return up.size() == 3 && ps["instances"].size() == 3 &&
           std::all_of(up.begin(), up.end(),
                       [](const json& i) { return i.value("release", 0) == 2; });
  }));
  REQUIRE(wait_for(10s, [&] { return loop.releases_seen().count("v2") == 1; }));
  {
    const auto failed = loop.failures();
    INFO(Catch::Detail::stringify(failed));
    CHECK(failed.empty());
  }

  // kill -9 of one instance: at most the one request in flight to it fails (the router
  // retries a GET whose connection is refused on another instance).
  const size_t failed_before = loop.failures().size();
  const int ok_before = loop.ok();
  const std::set<std::string> procs = instance_processes("rtroll", c.data_dirs());
  REQUIRE(!procs.empty());
  const std::string victim = *procs.begin();
  ::kill(std::stoi(victim.substr(victim.find('@') + 1)), SIGKILL);
  REQUIRE(wait_for(30s, [&] { return loop.ok() >= ok_before + 100; }));
  {
    const auto failed = loop.failures();
    INFO(Catch::Detail::stringify(failed));
    CHECK(failed.size() - failed_before <= 1);
  }

  // kill -9 of a whole node, agent and instances, while it serves the app: again at most
  // the request in flight to it fails. Its backend leaves the routes once gossip holds the
  // node failed; until then the router retries refused GETs elsewhere, and the app's group
  // (which may lose its leader here) is not needed to keep serving.
  AgentProcess& doomed = *c.agents[1];
  REQUIRE(wait_for(60s, [&] { return routed_nodes(via, "rtroll").count(doomed.name()) == 1; }));
  const size_t failed_before_node = loop.failures().size();
  kill_node(doomed);
  REQUIRE(wait_for(60s, [&] { return routed_nodes(via, "rtroll").count(doomed.name()) == 0; }));
  const int ok_after_drop = loop.ok();
  REQUIRE(wait_for(30s, [&] { return loop.ok() >= ok_after_drop + 50; }));
  loop.stop();
  const auto failed = loop.failures();
  INFO(Catch::Detail::stringify(failed));
  CHECK(failed.size() - failed_before_node <= 1);
}

}  // namespace shoal::test
