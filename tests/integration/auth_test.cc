// API tokens on a 3-node loopback cluster (docs/security.md): writes and reads without a
// token are refused and change nothing; a deploy token works on its app, through any node
// (forwarded requests keep the caller's identity), and is refused on another app; a revoked
// token stops working on every node; the CLI creates, lists, revokes and logs in; a new
// cluster's bootstrap admin token lands in DATA_DIR/admin-token (0600), shown once, and the
// CLI finds it there by itself.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/integration/apps_cluster.h"

using namespace shoal;
using namespace shoal::test;
using namespace std::chrono_literals;

namespace {

node::ApiClient with_token(const AgentProcess& a, const std::string& token) {
  auto c = a.anonymous_client(5s);
  c.set_token(token);
  return c;
}

std::string make_token(AgentProcess& via, const std::vector<std::string>& scopes,
                       const std::string& name) {
  const json body = {{"scopes", scopes}, {"name", name}};
  auto r = via.client(10s).call("POST", "/v1/tokens", {}, &body);
  REQUIRE(r.ok());
  return r->at("token").get<std::string>();
}

json apps_list(AgentProcess& a) {
  auto r = a.client(5s).call("GET", "/v1/apps");
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("auth: no token 401, wrong scope 403, neither changes anything, revocation reaches "
          "every node",
          "[integration][auth][security]") {
  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];
  for (const char* app : {"web", "api"}) {
    const json body = {{"name", app}};
    REQUIRE(n0.client(10s).call("POST", "/v1/apps", {}, &body).ok());
  }
  const json before = apps_list(n0);

  // 1. No token: reads and writes are refused with 401 on every node, and say what to do.
  for (auto& a : c.agents) {
    auto anon = a->anonymous_client(5s);
    auto read = anon.send("GET", "/v1/apps");
    REQUIRE(read.ok());
    CHECK(read->status == 401);
    CHECK(read->header("WWW-Authenticate").find("Bearer") == 0);
    CHECK(read->body.find("Authorization: Bearer") != std::string::npos);
    auto write = anon.send("POST", "/v1/apps", R"({"name": "sneaky"})");
    REQUIRE(write.ok());
    CHECK(write->status == 401);
    // What anyone may see stays open: health, metrics, the dashboard's files.
    CHECK(anon.send("GET", "/v1/health")->status == 200);
    CHECK(anon.send("GET", "/metrics")->status == 200);
    CHECK(anon.send("GET", "/ui/app.js")->status == 200);
  }

  // 2. A deploy token for another app: 403 naming what it lacks, and nothing changes.
  const std::string api_token = make_token(n0, {"deploy:api"}, "api-ci");
  for (auto& a : c.agents) {
    auto wrong = with_token(*a, api_token);
    REQUIRE(wait_for(10s, [&] { return wrong.call("GET", "/v1/token").ok(); }));  // pushed
    const json scale = {{"web", 2}};
    auto r = wrong.call("POST", "/v1/apps/web/scale", {}, &scale);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().is(Status::Code::permission_denied));
    CHECK(r.status().message().find("deploy:web") != std::string::npos);
    auto destroy = wrong.call("DELETE", "/v1/apps/api");  // destroying is admin's
    CHECK(destroy.status().is(Status::Code::permission_denied));
    // It reads, though: a deploy needs to watch its rollout.
    CHECK(wrong.call("GET", "/v1/apps").ok());
    // Not the app's secrets, nor the keyring, nor the token list.
    CHECK(wrong.call("GET", "/v1/apps/web/config").status().is(Status::Code::permission_denied));
    CHECK(wrong.call("GET", "/v1/tokens").status().is(Status::Code::permission_denied));
  }
  CHECK(apps_list(n0) == before);

  // 3. The right scope works through every node, forwarded to the app's leader with its
  //    identity: the leader's audit line names the token.
  const std::string web_token = make_token(n0, {"deploy:web"}, "web-ci");
  for (auto& a : c.agents) {
    auto right = with_token(*a, web_token);
    REQUIRE(wait_for(10s, [&] { return right.call("GET", "/v1/token").ok(); }));
    const json body = {{"set", {{"GREETING", "hi-" + a->name()}}}};
    auto r = right.call("POST", "/v1/apps/web/config", {}, &body);
    INFO(a->name() << ": " << r.status().to_string());
    CHECK(r.ok());
  }
  // Each line says how the request ended.
  bool audited = false;
  for (auto& a : c.agents) {
    const std::string log = a->log();
    for (size_t at = log.find("audit token=\"web-ci ("); at != std::string::npos;
         at = log.find("audit token=\"web-ci (", at + 1)) {
      const std::string line = log.substr(at, log.find('\n', at) - at);
      INFO(line);
      CHECK(line.find("path=/v1/apps/web/config") != std::string::npos);
      CHECK(line.find(" status=200") != std::string::npos);
      audited = true;
    }
  }
  CHECK(audited);

  // 4. Revoked on one node: every node refuses it soon after (the catalog leader pushes).
  auto revoked = n0.client(10s).call("DELETE", "/v1/tokens/web-ci");
  REQUIRE(revoked.ok());
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& a : c.agents) {
    auto gone = with_token(*a, web_token);
    CHECK(wait_for(10s, [&] {
      return gone.call("GET", "/v1/apps").status().is(Status::Code::unauthenticated);
    }));
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("revocation seen by all 3 nodes after " << took << " s");

  // 5. The list holds ids, names and scopes, never a secret; events tell who did what.
  auto list = n0.client(5s).call("GET", "/v1/tokens");
  REQUIRE(list.ok());
  CHECK(list->dump().find(api_token.substr(23)) == std::string::npos);
  CHECK(list->dump().find("api-ci") != std::string::npos);
  CHECK(list->dump().find("web-ci") == std::string::npos);
  auto events = n0.client(5s).call("GET", "/v1/catalog/events");
  REQUIRE(events.ok());
  CHECK(events->dump().find("token_revoked") != std::string::npos);
}

TEST_CASE("auth: the CLI creates, lists, revokes and logs in", "[integration][auth][security]") {
  AppsCluster c(1);
  AgentProcess& n0 = *c.agents[0];
  const fs::path config = make_temp_dir("shoal-cli-config");
  const std::string xdg = "XDG_CONFIG_HOME=" + config.string();

  auto created = run_command({"token", "create", "--addr", n0.http_url(), "--scope", "read",
                              "--name", "watcher"});
  REQUIRE(created.exit_code == 0);
  const std::string token = created.out.substr(0, created.out.find('\n'));
  CHECK(token.rfind("shoal_", 0) == 0);
  CHECK(created.err.find("shown only now") != std::string::npos);

  auto listed = run_command({"token", "list", "--addr", n0.http_url()});
  REQUIRE(listed.exit_code == 0);
  CHECK(listed.out.find("watcher") != std::string::npos);
  CHECK(listed.out.find("bootstrap-admin") != std::string::npos);

  // Log in with the read token (stdin is /dev/null here: it comes as the argument), with
  // SHOAL_TOKEN out of the way; it is then what the CLI sends for that address.
  const std::vector<std::string> env = {xdg, "SHOAL_TOKEN="};
  auto login = run_command({"login", "--addr", n0.http_url(), token}, 30s, env);
  REQUIRE(login.exit_code == 0);
  struct stat st {};
  REQUIRE(::stat((config / "shoal" / "credentials.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto self = run_command({"token", "self", "--addr", n0.http_url()}, 30s, env);
  CHECK(self.out.find("watcher") != std::string::npos);
  auto refused = run_command({"apps", "create", "nope", "--addr", n0.http_url()}, 30s, env);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("may not POST /v1/apps") != std::string::npos);

  auto bad = run_command({"login", "--addr", n0.http_url(), "shoal_nope"}, 30s, env);
  CHECK(bad.exit_code != 0);

  auto revoked = run_command({"token", "revoke", "watcher", "--addr", n0.http_url()});
  CHECK(revoked.exit_code == 0);
  auto after = run_command({"token", "self", "--addr", n0.http_url()}, 30s, env);
  CHECK(after.exit_code == 1);
  CHECK(after.err.find("not valid") != std::string::npos);
  auto logout = run_command({"logout", "--addr", n0.http_url()}, 30s, env);
  CHECK(logout.exit_code == 0);
  std::error_code ec;
  fs::remove_all(config, ec);
}

TEST_CASE("auth: a new cluster's admin token is saved 0600, shown once, and found by the CLI",
          "[integration][auth][security]") {
  auto a = AgentProcess::start("boot", {}, /*test_token=*/false);
  REQUIRE(a->wait_healthy());
  const fs::path file = a->data_dir() / "admin-token";
  REQUIRE(wait_for(20s, [&] { return fs::exists(file) && a->log().find("admin-token-bootstrap") != std::string::npos; }));
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string token = read_file(file).substr(0, read_file(file).find('\n'));
  REQUIRE(token.rfind("shoal_", 0) == 0);
  auto count = [&] {
    size_t n = 0;
    const std::string log = a->log();
    for (auto at = log.find(token); at != std::string::npos; at = log.find(token, at + 1)) ++n;
    return n;
  };
  CHECK(count() == 1);  // printed once, never logged

  // Tokens are per cluster: the tests' token means nothing here.
  CHECK(a->client(5s).call("GET", "/v1/apps").status().is(Status::Code::unauthenticated));
  // The CLI finds the admin token in the node's data dir by itself.
  const std::vector<std::string> env = {"SHOAL_TOKEN=", "SHOAL_DATA_DIR=" + a->data_dir().string()};
  REQUIRE(wait_for(10s, [&] {
    return run_command({"apps", "--addr", a->http_url()}, 30s, env).exit_code == 0;
  }));
  // Without it (no readable data dir), the agent's refusal says what to do.
  auto none = run_command({"apps", "--addr", a->http_url()}, 30s,
                          {"SHOAL_TOKEN=", "SHOAL_DATA_DIR=/nonexistent", "HOME=/nonexistent"});
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("needs an API token") != std::string::npos);

  // A restart neither prints it again nor makes another.
  REQUIRE(a->terminate().has_value());
  a->restart();
  REQUIRE(a->wait_healthy());
  std::this_thread::sleep_for(2s);
  CHECK(count() == 1);
  CHECK(read_file(file).find(token) == 0);
  CHECK(run_command({"apps", "--addr", a->http_url()}, 30s, env).exit_code == 0);
}

TEST_CASE("auth: failed authentications past the limit get 429 with Retry-After, then it lifts",
          "[integration][auth][security]") {
  auto a = AgentProcess::start("limited");
  REQUIRE(a->wait_healthy());
  REQUIRE(wait_for(20s, [&] { return a->client(5s).call("GET", "/v1/apps").ok(); }));
  auto guesser = with_token(*a, "shoal_0123456789abcdef_" + std::string(43, 'A'));
  int refused = 0;
  std::optional<node::HttpResponse> limited;
  const auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < 100 && !limited; ++i) {
    auto r = guesser.send("GET", "/v1/apps");
    REQUIRE(r.ok());
    if (r->status == 401) ++refused;
    if (r->status == 429) limited = *r;
  }
  const auto took = std::chrono::steady_clock::now() - began;
  REQUIRE(limited.has_value());
  // The burst (docs/security.md, "Limits"), plus one per second the loop took.
  CHECK(refused >= 20);
  CHECK(refused <= 20 + std::chrono::duration_cast<std::chrono::seconds>(took).count() + 1);
  CHECK(std::stoi(limited->header("Retry-After")) >= 1);
  CHECK(limited->body.find("too many failed authentications") != std::string::npos);
  // While limited, even a good token from that address is not looked at. (A loop slow
  // enough to have nearly refilled one try may see it let through; a normal one cannot.)
  auto good = a->client(5s).send("GET", "/v1/apps");
  REQUIRE(good.ok());
  if (took < 500ms) CHECK(good->status == 429);
  auto metrics = a->anonymous_client(5s).send("GET", "/metrics");
  REQUIRE(metrics.ok());
  CHECK(metrics->body.find("shoal_api_auth_failures_total{reason=\"rate_limited\"}") !=
        std::string::npos);
  // It refills by itself: one try a second.
  REQUIRE(wait_for(5s, [&] { return a->client(5s).call("GET", "/v1/apps").ok(); }));
}
