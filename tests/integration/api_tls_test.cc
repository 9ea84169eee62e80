// The API over TLS (docs/security.md, "TLS on the API"), with real agents and the real CLI:
// an agent whose API binds off loopback (or is told --http-tls) serves TLS with a key it
// makes once and keeps; the CLI pins that key on first use, as SSH pins host keys, and
// refuses the agent when its key changes; a user's certificate is trusted through
// --ca-cert without any pin; a half or mismatched pair stops the agent with a usage error.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "node/tls/api_cert.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string self_fingerprint(const AgentProcess& agent) {
  auto self = agent.client(5s).call("GET", "/v1/agent/self");
  REQUIRE(self.ok());
  REQUIRE(self->at("http_tls").get<bool>());
  return self->at("http_tls_fingerprint").get<std::string>();
}

// `shoal ARGS` with its configuration (known_hosts) in `config_home`.
CommandResult cli(const fs::path& config_home, std::vector<std::string> args) {
  return run_command(args, 30s, {"XDG_CONFIG_HOME=" + config_home.string()});
}

// True when this process has a network namespace of its own (only `lo` in it), where it
// may add an address off loopback without touching the machine's network.
// (/proc/net/dev, not /sys/class/net: sysfs shows the namespace it was mounted in.)
bool own_network_namespace() {
  std::ifstream dev("/proc/self/net/dev");
  std::string line;
  int interfaces = 0;
  for (int n = 0; std::getline(dev, line); ++n) {
    if (n < 2) continue;  // two header lines
    const auto colon = line.find(':');
    const auto first = line.find_first_not_of(' ');
    if (colon == std::string::npos || line.substr(first, colon - first) != "lo") return false;
    ++interfaces;
  }
  return interfaces == 1 && ::geteuid() == 0;
}

}  // namespace

TEST_CASE("the CLI pins an agent's generated TLS key on first use and refuses a changed one",
          "[api-tls]") {
  auto agent = AgentProcess::start("tls-pin", {"--http-tls"});
  REQUIRE(agent->wait_healthy());
  const std::string print = self_fingerprint(*agent);
  CHECK(agent->log().find("api-tls fingerprint=" + print) != std::string::npos);
  struct stat st {};
  REQUIRE(::stat((agent->data_dir() / "api-tls" / "key.pem").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  const fs::path home = make_temp_dir("shoal-cli-home");
  const fs::path known_hosts = home / "shoal" / "known_hosts";
  auto first = cli(home, {"--addr", agent->http_url(), "members"});
  CHECK(first.exit_code == 0);
  CHECK(first.out.find("tls-pin") != std::string::npos);
  CHECK(first.err.find("pinned") != std::string::npos);
  CHECK(first.err.find(print) != std::string::npos);
  CHECK(read_file(known_hosts) == agent->http_addr() + " " + print + "\n");

  auto second = cli(home, {"--addr", agent->http_url(), "members"});
  CHECK(second.exit_code == 0);
  CHECK(second.err.find("pinned") == std::string::npos);

  // An explicit fingerprint is checked instead of the file.
  auto wrong = cli(home, {"--addr", agent->http_url(), "--tls-fingerprint",
                          "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "members"});
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err.find("--tls-fingerprint") != std::string::npos);
  CHECK(cli(home, {"--addr", agent->http_url(), "--tls-fingerprint", print, "members"})
            .exit_code == 0);

  // Plain HTTP to it is told what to use.
  auto plain = cli(home, {"--addr", "http://" + agent->http_addr(), "members"});
  CHECK(plain.exit_code == 1);
  CHECK(plain.err.find("this API speaks TLS: use https://") != std::string::npos);

  // A restart keeps the key, so the pin holds.
  REQUIRE(agent->terminate() == 0);
  agent->restart();
  REQUIRE(agent->wait_healthy());
  CHECK(self_fingerprint(*agent) == print);
  CHECK(cli(home, {"--addr", agent->http_url(), "members"}).exit_code == 0);

  // A new key (its directory removed) is refused until the pin is removed.
  REQUIRE(agent->terminate() == 0);
  fs::remove_all(agent->data_dir() / "api-tls");
  agent->restart();
  REQUIRE(agent->wait_healthy());
  const std::string new_print = self_fingerprint(*agent);
  CHECK(new_print != print);
  auto changed = cli(home, {"--addr", agent->http_url(), "members"});
  CHECK(changed.exit_code == 1);
  CHECK(changed.err.find("has changed") != std::string::npos);
  CHECK(changed.err.find(known_hosts.string() + " line 1") != std::string::npos);
  CHECK(changed.out.find("tls-pin") == std::string::npos);
  fs::remove(known_hosts);
  CHECK(cli(home, {"--addr", agent->http_url(), "members"}).exit_code == 0);
  fs::remove_all(home);
}

TEST_CASE("an API bound off loopback speaks TLS without being asked", "[api-tls]") {
  if (!own_network_namespace()) {
    WARN("skipped: needs root in a network namespace of its own (scripts/test.sh makes one)");
    return;
  }
  // An address that is not loopback, on `lo` of this namespace only.
  REQUIRE(run_command_argv({find_program("ip"), "addr", "replace", "10.77.0.1/32", "dev", "lo"})
              .exit_code == 0);
  const std::string http = "10.77.0.1:" + std::to_string(free_loopback_port());
  auto agent = AgentProcess::start("tls-off-lo", {"--http", http});
  REQUIRE(agent->wait_healthy());
  CHECK(agent->http_url() == "https://" + http);
  const std::string print = self_fingerprint(*agent);

  // A bare HOST:PORT off loopback is https to the CLI, and pinned on first use.
  const fs::path home = make_temp_dir("shoal-cli-home");
  auto members = cli(home, {"--addr", http, "members"});
  CHECK(members.exit_code == 0);
  CHECK(members.out.find("tls-off-lo") != std::string::npos);
  CHECK(members.err.find(print) != std::string::npos);
  auto plain = cli(home, {"--addr", "http://" + http, "members"});
  CHECK(plain.exit_code == 1);
  CHECK(plain.err.find("speaks TLS") != std::string::npos);
  fs::remove_all(home);
}

TEST_CASE("a user's certificate for the API is trusted through --ca-cert, without a pin",
          "[api-tls]") {
  const fs::path dir = make_temp_dir("shoal-api-user-cert");
  auto pem = node::tls::make_self_signed("api.test", {"127.0.0.1", "api.test"});
  REQUIRE(pem.ok());
  std::ofstream(dir / "api.crt") << pem->cert;
  std::ofstream(dir / "api.key") << pem->key;
  auto agent = AgentProcess::start(
      "tls-user", {"--http-tls-cert", (dir / "api.crt").string(), "--http-tls-key",
                   (dir / "api.key").string()});
  REQUIRE(agent->wait_healthy());
  CHECK_FALSE(fs::exists(agent->data_dir() / "api-tls"));

  const fs::path home = make_temp_dir("shoal-cli-home");
  auto members = cli(home, {"--addr", agent->http_url(), "--ca-cert", (dir / "api.crt").string(),
                            "members"});
  CHECK(members.exit_code == 0);
  CHECK(members.err.find("pinned") == std::string::npos);
  CHECK_FALSE(fs::exists(home / "shoal" / "known_hosts"));
  agent->terminate();

  // Half a pair, or a key of another certificate, is a usage error at start.
  auto other = node::tls::make_self_signed("other", {"other"});
  REQUIRE(other.ok());
  std::ofstream(dir / "other.key") << other->key;
  auto half = run_command({"agent", "--node", "x", "--data-dir", (dir / "d1").string(),
                           "--http-tls-cert", (dir / "api.crt").string()});
  CHECK(half.exit_code == 2);
  CHECK(half.err.find("needs --http-tls-key") != std::string::npos);
  const std::string gossip = "127.0.0.1:" + std::to_string(free_loopback_port());
  auto mismatched = run_command(
      {"agent", "--node", "x", "--data-dir", (dir / "d2").string(), "--bind", gossip, "--http",
       "127.0.0.1:" + std::to_string(free_loopback_port()), "--router", "off",
       "--http-tls-cert", (dir / "api.crt").string(), "--http-tls-key",
       (dir / "other.key").string()});
  CHECK(mismatched.exit_code == 2);
  CHECK(mismatched.err.find("--http-tls-cert") != std::string::npos);
  CHECK(mismatched.err.find("does not belong") != std::string::npos);
  fs::remove_all(home);
  fs::remove_all(dir);
}
