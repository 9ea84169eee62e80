// Issue 9, point 5, end to end: a custom domain added with its certificate and key
// (`shoal domains add APP HOST --cert F --key F`) is served over HTTPS by every node's
// --router-tls, verified by curl against that certificate; a bad or mismatched pair is
// refused with an error naming the problem, and removing the domain ends HTTPS for it.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "tests/integration/apps_cluster.h"
#include "tests/support/process.h"
#include "tests/support/tls_cert.h"

namespace shoal::test {
namespace {

// The node's bound --router-tls port (it was given port 0), from GET /v1/router/traffic.
int tls_port(AgentProcess& node) {
  auto r = node.client(3s).call("GET", "/v1/router/traffic");
  if (!r.ok() || !r->contains("router_tls") || !(*r)["router_tls"].is_string()) return 0;
  const std::string addr = (*r)["router_tls"];
  return std::stoi(addr.substr(addr.rfind(':') + 1));
}

// curl, verifying the router against `ca`, with `host` resolved to loopback.
CommandResult curl_https(const std::string& host, int port, const fs::path& ca,
                         const std::string& path = "/") {
  const std::string hp = host + ":" + std::to_string(port);
  return run_command_argv({find_program("curl"), "-sS", "--max-time", "5", "--cacert", ca.string(), "--resolve",
                           hp + ":127.0.0.1", "https://" + hp + path},
                          10s);
}

}  // namespace

TEST_CASE("router: HTTPS for a custom domain with its certificate, through every node",
          "[integration][router][tls]") {
  AppsCluster c(2, {"--router-tls", "127.0.0.1:0"});
  AgentProcess& n0 = *c.agents[0];
  AgentProcess& n1 = *c.agents[1];
  auto dep = c.cli(n0, {"deploy", (source_dir() / "examples/python-web").string(), "--app", "rttls"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);

  const std::string host = "secure.rttls.test";
  const auto pair = make_self_signed({host});
  const auto stranger = make_self_signed({"stranger.test"});
  const fs::path crt = c.scratch / "secure.crt", key = c.scratch / "secure.key",
                 other_key = c.scratch / "other.key";
  std::ofstream(crt) << pair.cert;
  std::ofstream(key) << pair.key;
  std::ofstream(other_key) << stranger.key;

  // Refused, each naming the problem; nothing is added.
  auto mismatched = c.cli(n1, {"domains", "add", "rttls", host, "--cert", crt.string(), "--key",
                               other_key.string()});
  CHECK(mismatched.exit_code != 0);
  CHECK_THAT(mismatched.err, Catch::Contains("does not belong to the certificate"));
  auto wrong_host = c.cli(n1, {"domains", "add", "rttls", "nope.rttls.test", "--cert",
                               crt.string(), "--key", key.string()});
  CHECK(wrong_host.exit_code != 0);
  CHECK_THAT(wrong_host.err, Catch::Contains("does not name nope.rttls.test"));
  auto half = c.cli(n1, {"domains", "add", "rttls", host, "--cert", crt.string()});
  CHECK(half.exit_code == 2);
  CHECK_THAT(half.err, Catch::Contains("--cert and --key go together"));
  auto missing = c.cli(n1, {"domains", "add", "rttls", host, "--cert", "/nonexistent.crt",
                            "--key", key.string()});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("/nonexistent.crt"));
  auto none = c.cli(n0, {"domains", "rttls"});
  CHECK_THAT(none.out, Catch::Contains("no custom domain"));

  // Added through one node, served over HTTPS by both.
  auto added = c.cli(n1, {"domains", "add", "rttls", host, "--cert", crt.string(), "--key",
                          key.string()});
  INFO(added.out << added.err);
  REQUIRE(added.exit_code == 0);
  auto listed = c.cli(n0, {"domains", "rttls"});
  CHECK_THAT(listed.out, Catch::Contains(host) && Catch::Contains("until "));
  for (auto* node : {&n0, &n1}) {
    const int port = tls_port(*node);
    REQUIRE(port != 0);
    CommandResult got;
    CHECK(wait_for(60s, [&] {
      got = curl_https(host, port, crt);
      return got.exit_code == 0 && got.out.find("\"instance\"") != std::string::npos;
    }));
    INFO(node->name() << ": " << got.out << got.err);
    CHECK(got.exit_code == 0);
  }

  // Removed: the handshake for the name fails on every node.
  auto removed = c.cli(n0, {"domains", "remove", "rttls", host});
  REQUIRE(removed.exit_code == 0);
  for (auto* node : {&n0, &n1}) {
    const int port = tls_port(*node);
    CHECK(wait_for(30s, [&] { return curl_https(host, port, crt).exit_code != 0; }));
  }
}

}  // namespace shoal::test
