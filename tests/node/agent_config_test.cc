// Tests of node/agent_config: flags, the TOML file, defaults, and the errors bad values get.
#include <catch2/catch.hpp>

#include <CLI/CLI.hpp>
#include <fstream>

#include "node/agent_config.h"
#include "node/duration_text.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::node;

namespace {

AgentEnvironment test_env() {
  AgentEnvironment env;
  env.hostname = "box1";
  env.home = "/home/ann";
  return env;
}

// Parses `shoal agent ARGS...` flags the way the CLI does and resolves them.
Result<AgentConfig> parse(std::vector<std::string> args, AgentEnvironment env = test_env()) {
  CLI::App app;
  AgentFlags flags;
  add_agent_flags(app, flags);
  std::reverse(args.begin(), args.end());  // CLI11 wants them last-first
  app.parse(args);
  return resolve_agent_config(flags, env);
}

std::string error_of(const Result<AgentConfig>& r) {
  REQUIRE_FALSE(r.ok());
  return r.status().message();
}

struct TempFile {
  explicit TempFile(const std::string& text) {
    dir = test::make_temp_dir("shoal-config");
    path = dir / "agent.toml";
    std::ofstream(path) << text;
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::filesystem::path dir;
  std::filesystem::path path;
};

}  // namespace

TEST_CASE("agent config defaults", "[node][config]") {
  auto c = parse({});
  REQUIRE(c.ok());
  CHECK(c->node_name == "box1");
  CHECK(c->bind.to_string() == "127.0.0.1:7946");
  CHECK(c->advertise == c->bind);
  CHECK(c->http.to_string() == "127.0.0.1:8080");
  CHECK(c->data_dir == "/home/ann/.shoal/box1");
  CHECK(c->profile == "lan");
  CHECK(c->log_level == LogLevel::info);
  CHECK(c->join.empty());
  CHECK(c->retry_max == 0);
  CHECK(c->tags.empty());
  CHECK(c->serf_config().memberlist.profile_name == "lan");
}

TEST_CASE("agent config: data dir falls back to ./data/NODE without HOME", "[node][config]") {
  AgentEnvironment env = test_env();
  env.home.reset();
  auto c = parse({"--node", "n7"}, env);
  REQUIRE(c.ok());
  CHECK(c->data_dir == std::filesystem::path("data") / "n7");
}

TEST_CASE("agent config: every flag", "[node][config]") {
  auto c = parse({"--node", "web-1", "--bind", "127.0.0.2:8000", "--advertise", "10.0.0.5",
                  "--join", "127.0.0.1:7947", "--join", "127.0.0.3", "--retry-max", "5",
                  "--tag", "role=web", "--tag", "expr=a=b", "--tag", "empty=", "--data-dir",
                  "/tmp/x", "--profile", "local", "--http", "127.0.0.1:9090", "--log-level",
                  "debug"});
  REQUIRE(c.ok());
  CHECK(c->node_name == "web-1");
  CHECK(c->bind.to_string() == "127.0.0.2:8000");
  CHECK(c->advertise.to_string() == "10.0.0.5:8000");  // port defaults to the bind port
  CHECK(c->join == std::vector<std::string>{"127.0.0.1:7947", "127.0.0.3"});
  CHECK(c->retry_max == 5);
  CHECK(c->tags == std::map<std::string, std::string>{{"role", "web"}, {"expr", "a=b"},
                                                      {"empty", ""}});
  CHECK(c->data_dir == "/tmp/x");
  CHECK(c->profile == "local");
  CHECK(c->serf_config().memberlist.profile_name == "local");
  CHECK(c->serf_config().node_name == "web-1");
  CHECK(c->serf_config().tags.at("role") == "web");
  CHECK(c->http.to_string() == "127.0.0.1:9090");
  CHECK(c->log_level == LogLevel::debug);
}

TEST_CASE("agent config: bad flag values name the flag", "[node][config]") {
  CHECK_THAT(error_of(parse({"--bind", "example.com:7946"})), Catch::Contains("--bind"));
  CHECK_THAT(error_of(parse({"--bind", "127.0.0.1:99999"})), Catch::Contains("bad port"));
  CHECK_THAT(error_of(parse({"--bind", "127.0.0.1:0"})), Catch::Contains("port 0"));
  CHECK_THAT(error_of(parse({"--bind", "0.0.0.0:7946"})), Catch::Contains("--advertise"));
  CHECK_THAT(error_of(parse({"--advertise", "0.0.0.0"})), Catch::Contains("--advertise"));
  CHECK_THAT(error_of(parse({"--join", "nope:x"})), Catch::Contains("--join"));
  CHECK_THAT(error_of(parse({"--retry-max", "-1"})), Catch::Contains("--retry-max"));
  CHECK_THAT(error_of(parse({"--tag", "novalue"})), Catch::Contains("--tag"));
  CHECK_THAT(error_of(parse({"--tag", "=v"})), Catch::Contains("empty key"));
  CHECK_THAT(error_of(parse({"--profile", "fast"})), Catch::Contains("--profile") &&
                                                         Catch::Contains("lan, wan or local"));
  CHECK_THAT(error_of(parse({"--http", "127.0.0.1:7946"})), Catch::Contains("--http"));
  CHECK_THAT(error_of(parse({"--log-level", "loud"})), Catch::Contains("--log-level"));
  CHECK_THAT(error_of(parse({"--node", "a/b"})), Catch::Contains("--node"));
  CHECK_THAT(error_of(parse({"--node", ""})), Catch::Contains("--node"));
  CHECK_THAT(error_of(parse({"--data-dir", ""})), Catch::Contains("--data-dir"));
  CHECK_THAT(error_of(parse({"--config", "/nonexistent/shoal.toml"})),
             Catch::Contains("--config"));
}

TEST_CASE("agent config: a TOML file sets every key, flags override it", "[node][config]") {
  TempFile file(R"(
node = "from-file"
bind = "127.0.0.1:7000"
advertise = "127.0.0.9:7000"
join = ["127.0.0.1:7001", "127.0.0.1:7002"]
retry_max = 3
tags = { role = "db", zone = "a" }
data_dir = "/var/lib/shoal"
profile = "wan"
http = "127.0.0.1:9000"
log_level = "warn"
)");
  auto c = parse({"--config", file.path.string()});
  REQUIRE(c.ok());
  CHECK(c->node_name == "from-file");
  CHECK(c->bind.to_string() == "127.0.0.1:7000");
  CHECK(c->advertise.to_string() == "127.0.0.9:7000");
  CHECK(c->join.size() == 2);
  CHECK(c->retry_max == 3);
  CHECK(c->tags == std::map<std::string, std::string>{{"role", "db"}, {"zone", "a"}});
  CHECK(c->data_dir == "/var/lib/shoal");
  CHECK(c->profile == "wan");
  CHECK(c->http.to_string() == "127.0.0.1:9000");
  CHECK(c->log_level == LogLevel::warn);

  auto o = parse({"--config", file.path.string(), "--node", "from-flag", "--tag", "zone=b",
                  "--join", "127.0.0.1:7003", "--profile", "local"});
  REQUIRE(o.ok());
  CHECK(o->node_name == "from-flag");
  CHECK(o->tags.at("zone") == "b");  // the flag's value wins
  CHECK(o->tags.at("role") == "db");
  CHECK(o->join.size() == 3);  // lists add up
  CHECK(o->profile == "local");
}

TEST_CASE("agent config: TOML errors name the file and key", "[node][config]") {
  SECTION("syntax error has a line number") {
    TempFile file("node = \"x\"\nbind = \n");
    auto err = error_of(parse({"--config", file.path.string()}));
    CHECK_THAT(err, Catch::Contains(file.path.string() + ":2"));
  }
  SECTION("unknown key") {
    TempFile file("nodes = \"x\"\n");
    CHECK_THAT(error_of(parse({"--config", file.path.string()})),
               Catch::Contains("unknown key 'nodes'"));
  }
  SECTION("wrong type") {
    TempFile file("retry_max = \"3\"\n");
    CHECK_THAT(error_of(parse({"--config", file.path.string()})),
               Catch::Contains("'retry_max' must be an integer"));
  }
  SECTION("tag that is not a string") {
    TempFile file("tags = { n = 1 }\n");
    CHECK_THAT(error_of(parse({"--config", file.path.string()})),
               Catch::Contains("tag 'n' must be a string"));
  }
  SECTION("bad value names the key in the file") {
    TempFile file("profile = \"fast\"\n");
    CHECK_THAT(error_of(parse({"--config", file.path.string()})),
               Catch::Contains("key 'profile'"));
  }
}

TEST_CASE("parse_tag splits at the first '='", "[node][config]") {
  auto kv = parse_tag("a=b=c");
  REQUIRE(kv.ok());
  CHECK(kv->first == "a");
  CHECK(kv->second == "b=c");
  CHECK_FALSE(parse_tag("abc").ok());
}

TEST_CASE("agent config: rejoin_after_leave from the flag or the TOML file", "[node][config]") {
  auto off = parse({});
  REQUIRE(off.ok());
  CHECK_FALSE(off->rejoin_after_leave);
  auto on = parse({"--rejoin-after-leave"});
  REQUIRE(on.ok());
  CHECK(on->rejoin_after_leave);
  TempFile file("rejoin_after_leave = true\n");
  auto from_file = parse({"--config", file.path.string()});
  REQUIRE(from_file.ok());
  CHECK(from_file->rejoin_after_leave);
  TempFile bad("rejoin_after_leave = \"yes\"\n");
  CHECK_THAT(error_of(parse({"--config", bad.path.string()})),
             Catch::Contains("'rejoin_after_leave' must be true or false"));
}

TEST_CASE("agent config: --rpc defaults to the gossip port + 1 and is checked", "[node][config]") {
  auto c = parse({"--bind", "127.0.0.1:9000"});
  REQUIRE(c.ok());
  CHECK(c->rpc.to_string() == "127.0.0.1:9001");
  auto set = parse({"--rpc", "127.0.0.1:9100"});
  REQUIRE(set.ok());
  CHECK(set->rpc.to_string() == "127.0.0.1:9100");
  CHECK_THAT(error_of(parse({"--bind", "127.0.0.1:9000", "--rpc", "127.0.0.1:9000"})),
             Catch::Contains("--rpc") && Catch::Contains("gossip"));
  CHECK_THAT(error_of(parse({"--http", "127.0.0.1:9100", "--rpc", "127.0.0.1:9100"})),
             Catch::Contains("--rpc") && Catch::Contains("HTTP"));
  CHECK_THAT(error_of(parse({"--rpc", "127.0.0.1:0"})), Catch::Contains("--rpc"));
  CHECK_THAT(error_of(parse({"--bind", "127.0.0.1:65535"})), Catch::Contains("--rpc"));
}

TEST_CASE("rpc_serf: --rpc-serf is off by default, takes serf's port 7373, and is a TOML key too",
          "[node][config]") {
  auto off = parse({});
  REQUIRE(off.ok());
  CHECK_FALSE(off->rpc_serf.has_value());

  auto on = parse({"--rpc-serf", "127.0.0.1"});
  REQUIRE(on.ok());
  REQUIRE(on->rpc_serf.has_value());
  CHECK(on->rpc_serf->to_string() == "127.0.0.1:7373");
  CHECK(on->rpc_serf_auth.empty());

  TempFile file("rpc_serf = \"127.0.0.1:17373\"\nrpc_serf_auth = \"s3cret\"\n");
  auto from_file = parse({"--config", file.path.string()});
  REQUIRE(from_file.ok());
  CHECK(from_file->rpc_serf->to_string() == "127.0.0.1:17373");
  CHECK(from_file->rpc_serf_auth == "s3cret");

  CHECK_THAT(error_of(parse({"--rpc-serf", "127.0.0.1:8080"})),
             Catch::Contains("--rpc-serf") && Catch::Contains("HTTP API"));
  CHECK_THAT(error_of(parse({"--rpc-serf-auth", "k"})), Catch::Contains("needs --rpc-serf"));
  CHECK_THAT(error_of(parse({"--rpc-serf", "127.0.0.1:0"})), Catch::Contains("--rpc-serf"));
}

TEST_CASE("agent config: --router defaults to 127.0.0.1:8000, takes off, and is checked",
          "[node][config][routes]") {
  auto def = parse({});
  REQUIRE(def.ok());
  REQUIRE(def->router.has_value());
  CHECK(def->router->to_string() == "127.0.0.1:8000");
  CHECK(def->domain == "localhost");

  auto off = parse({"--router", "off"});
  REQUIRE(off.ok());
  CHECK_FALSE(off->router.has_value());
  auto wide = parse({"--router", "0.0.0.0:80"});
  REQUIRE(wide.ok());
  CHECK(wide->router->to_string() == "0.0.0.0:80");
  auto bare = parse({"--router", "10.1.2.3"});
  REQUIRE(bare.ok());
  CHECK(bare->router->to_string() == "10.1.2.3:8000");
  auto any_port = parse({"--router", "127.0.0.1:0"});  // the Router picks a free port
  REQUIRE(any_port.ok());
  CHECK(any_port->router->port == 0);

  CHECK_THAT(error_of(parse({"--router", "example.com:80"})),
             Catch::Contains("--router") && Catch::Contains("neither ADDR:PORT nor off"));
  CHECK_THAT(error_of(parse({"--router", "127.0.0.1:99999"})), Catch::Contains("--router"));
  CHECK_THAT(error_of(parse({"--router", ""})), Catch::Contains("--router"));
  CHECK_THAT(error_of(parse({"--router", "127.0.0.1:8080"})),
             Catch::Contains("--router") && Catch::Contains("the HTTP API address (--http)"));
  // A wildcard takes the port on every address, loopback included.
  CHECK_THAT(error_of(parse({"--router", "0.0.0.0:8080"})),
             Catch::Contains("0.0.0.0:8080 takes the port of the HTTP API address"));
  CHECK_THAT(error_of(parse({"--bind", "127.0.0.1:9000", "--router", "127.0.0.1:9001"})),
             Catch::Contains("the node-to-node address (--rpc)"));
  CHECK_THAT(error_of(parse({"--bind", "127.0.0.1:9000", "--router", "127.0.0.1:9000"})),
             Catch::Contains("the gossip port (--bind)"));
  CHECK_THAT(error_of(parse({"--rpc-serf", "127.0.0.1:7373", "--router", "127.0.0.1:7373"})),
             Catch::Contains("the Serf RPC address (--rpc-serf)"));
  // Another address on the same port is fine.
  CHECK(parse({"--router", "127.0.0.2:8080"}).ok());
}

TEST_CASE("agent config: --domain is lower-cased and checked, both are TOML keys",
          "[node][config][routes]") {
  auto c = parse({"--domain", "Apps.Example.COM"});
  REQUIRE(c.ok());
  CHECK(c->domain == "apps.example.com");
  CHECK_THAT(error_of(parse({"--domain", "bad_domain"})),
             Catch::Contains("--domain") && Catch::Contains("is not a host name"));
  CHECK_THAT(error_of(parse({"--domain", ""})),
             Catch::Contains("--domain") && Catch::Contains("domain is empty"));
  CHECK_THAT(error_of(parse({"--domain", "192.168.1.10"})),
             Catch::Contains("--domain") && Catch::Contains("looks like an IP address"));

  TempFile file("router = \"off\"\ndomain = \"shoal.test\"\n");
  auto from_file = parse({"--config", file.path.string()});
  REQUIRE(from_file.ok());
  CHECK_FALSE(from_file->router.has_value());
  CHECK(from_file->domain == "shoal.test");
  auto over = parse({"--config", file.path.string(), "--router", "127.0.0.1:8001"});
  REQUIRE(over.ok());
  CHECK(over->router->to_string() == "127.0.0.1:8001");

  TempFile bad("router = \"127.0.0.1:8080\"\n");
  CHECK_THAT(error_of(parse({"--config", bad.path.string()})),
             Catch::Contains("key 'router'") && Catch::Contains("(--http)"));
  TempFile bad_domain("domain = \"-x.io\"\n");
  CHECK_THAT(error_of(parse({"--config", bad_domain.path.string()})),
             Catch::Contains("key 'domain'") && Catch::Contains("is not a host name"));
  TempFile wrong_type("router = 8000\n");
  CHECK_THAT(error_of(parse({"--config", wrong_type.path.string()})), Catch::Contains("router"));
}

TEST_CASE("agent config: --router-access-log defaults into the data dir, takes off and a path",
          "[node][config][routes]") {
  auto def = parse({"--node", "n1"});
  REQUIRE(def.ok());
  REQUIRE(def->router_access_log.has_value());
  CHECK(*def->router_access_log == "/home/ann/.shoal/n1/router-access.log");
  auto off = parse({"--router-access-log", "off"});
  REQUIRE(off.ok());
  CHECK_FALSE(off->router_access_log.has_value());
  auto no_router = parse({"--router", "off"});  // no router, no access log
  REQUIRE(no_router.ok());
  CHECK_FALSE(no_router->router_access_log.has_value());
  auto path = parse({"--router-access-log", "/var/log/shoal/access.log"});
  REQUIRE(path.ok());
  CHECK(*path->router_access_log == "/var/log/shoal/access.log");
  CHECK_THAT(error_of(parse({"--router-access-log", ""})),
             Catch::Contains("--router-access-log") && Catch::Contains("must not be empty"));

  TempFile file("router_access_log = \"off\"\n");
  auto from_file = parse({"--config", file.path.string()});
  REQUIRE(from_file.ok());
  CHECK_FALSE(from_file->router_access_log.has_value());
}

TEST_CASE("agent config: --usage-interval defaults to 1s, takes off, and is checked",
          "[node][config][usage]") {
  auto def = parse({"--node", "n1"});
  REQUIRE(def.ok());
  CHECK(def->usage_interval == std::chrono::seconds(1));
  auto off = parse({"--usage-interval", "off"});
  REQUIRE(off.ok());
  CHECK(off->usage_interval == Duration::zero());
  auto fast = parse({"--usage-interval", "250ms"});
  REQUIRE(fast.ok());
  CHECK(fast->usage_interval == std::chrono::milliseconds(250));
  CHECK_THAT(error_of(parse({"--usage-interval", "10ms"})),
             Catch::Contains("--usage-interval") && Catch::Contains("from 100ms to 1m, or off"));
  CHECK_THAT(error_of(parse({"--usage-interval", "often"})), Catch::Contains("--usage-interval"));
  TempFile file("usage_interval = \"5s\"\n");
  auto from_file = parse({"--config", file.path.string()});
  REQUIRE(from_file.ok());
  CHECK(from_file->usage_interval == std::chrono::seconds(5));
}

TEST_CASE("agent config: the API speaks TLS off loopback, when asked, or given a certificate",
          "[node][config][api-tls]") {
  auto loopback = parse({"--node", "n1"});
  REQUIRE(loopback.ok());
  CHECK_FALSE(loopback->http_tls);
  for (const char* http : {"10.0.0.5:8080", "0.0.0.0:8080", "[::]:8080"}) {
    auto off = parse({"--http", http});
    REQUIRE(off.ok());
    CHECK(off->http_tls);
    CHECK_FALSE(off->http_tls_cert.has_value());
  }
  auto asked = parse({"--http-tls"});
  REQUIRE(asked.ok());
  CHECK(asked->http_tls);
  auto given = parse({"--http-tls-cert", "/etc/c.pem", "--http-tls-key", "/etc/k.pem"});
  REQUIRE(given.ok());
  CHECK(given->http_tls);
  CHECK(given->http_tls_cert == std::filesystem::path("/etc/c.pem"));
  CHECK(given->http_tls_key == std::filesystem::path("/etc/k.pem"));
  CHECK_THAT(error_of(parse({"--http-tls-cert", "/etc/c.pem"})),
             Catch::Contains("--http-tls-cert") && Catch::Contains("needs --http-tls-key"));
  CHECK_THAT(error_of(parse({"--http-tls-key", "/etc/k.pem"})),
             Catch::Contains("--http-tls-key") && Catch::Contains("needs --http-tls-cert"));
  TempFile file("http_tls = true\nhttp_tls_cert = \"/c.pem\"\nhttp_tls_key = \"/k.pem\"\n");
  auto from_file = parse({"--config", file.path.string()});
  REQUIRE(from_file.ok());
  CHECK(from_file->http_tls);
  CHECK(from_file->http_tls_key == std::filesystem::path("/k.pem"));
}

TEST_CASE("parse_since: a duration back from now, a UTC time, or epoch milliseconds",
          "[node][config][logs]") {
  const int64_t now = 1'796'622'842'057;
  CHECK(*parse_since("10m", now) == now - 600'000);
  CHECK(*parse_since("1796622000000", now) == 1'796'622'000'000);
  CHECK(*parse_since("2026-12-07T06:00:00Z", now) == 1'796'623'200'000);
  CHECK(*parse_since("2026-12-07T06:00:00.250Z", now) == 1'796'623'200'250);
  CHECK(*parse_since("1970-01-01T00:00:01Z", now) == 1000);
  for (const char* bad : {"", "soon", "2026-13-07T06:00:00Z", "2026-02-30T06:00:00Z",
                          "2026-12-07T06:00:00", "2026-12-07T06:00:00.5Z", "-5"}) {
    INFO(bad);
    auto r = parse_since(bad, now);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().rfind("since: ", 0) == 0);
  }
}
