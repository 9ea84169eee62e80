// Issue 13 end to end: `git push` of an app to any node of a 3-node loopback cluster deploys
// it, as a user would push: the git client, an API token as the password, the build and
// rollout in git's own terminal as remote: lines. A second push rolls out with no failed
// request through the router; a push to a node that has never seen the repository works;
// `shoal releases` shows the commits; a push whose build fails shows the build's output,
// exits non-zero and leaves the old release serving; no token, a wrong scope and another
// branch are refused.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include "tests/integration/apps_cluster.h"
#include "tests/integration/request_loop.h"
#include "tests/integration/router_helpers.h"
#include "tests/support/process.h"

namespace shoal::test {
namespace {

// git, run in `dir` with a fixed identity and nothing of the user's own git config.
CommandResult git(const fs::path& dir, std::vector<std::string> args,
                  std::chrono::milliseconds timeout = 180s) {
  std::vector<std::string> argv = {find_program("git"), "-C", dir.string(), "-c",
                                   "user.name=Shoal Test", "-c", "user.email=test@shoal.invalid"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command_argv(argv, timeout,
                          {"GIT_CONFIG_NOSYSTEM=1", "HOME=" + dir.parent_path().string(),
                           "GIT_TERMINAL_PROMPT=0"});
}

std::string remote(AgentProcess& node, const std::string& app, const std::string& password) {
  return "http://push:" + password + "@" + node.http_addr() + "/git/" + app + ".git";
}

std::string head_commit(const fs::path& dir) {
  auto r = git(dir, {"rev-parse", "HEAD"});
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, 40);
}

}  // namespace

TEST_CASE("git push: any node deploys, rolls out with no failed request, refuses what it must",
          "[integration][git]") {
  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];
  AgentProcess& n1 = *c.agents[1];
  AgentProcess& n2 = *c.agents[2];
  const std::string admin = test_admin_token();
  const fs::path src = c.scratch / "src";
  write_health_web(src, "");
  REQUIRE(git(src, {"init", "--quiet", "--initial-branch=main"}).exit_code == 0);
  REQUIRE(git(src, {"add", "-A"}).exit_code == 0);
  REQUIRE(git(src, {"commit", "--quiet", "-m", "v1"}).exit_code == 0);
  const std::string v1 = head_commit(src);

  // Refused before anything runs: no token, a token of another app, another branch.
  auto no_token = git(src, {"push", "http://" + n1.http_addr() + "/git/gp.git", "main"});
  CHECK(no_token.exit_code != 0);
  const json body = {{"scopes", {"deploy:other"}}, {"name", "other-ci"}};
  auto made = n0.client(10s).call("POST", "/v1/tokens", {}, &body);
  REQUIRE(made.ok());
  const std::string other_token = made->at("token").get<std::string>();
  // Tokens reach the other nodes by push; node 1 knows this one once it answers with it.
  REQUIRE(wait_for(10s, [&] {
    auto c1 = n1.anonymous_client(5s);
    c1.set_token(other_token);
    return c1.call("GET", "/v1/token").ok();
  }));
  auto wrong = git(src, {"push", remote(n1, "gp", other_token), "main"});
  INFO(wrong.out << wrong.err);
  CHECK(wrong.exit_code != 0);
  auto branch = git(src, {"push", remote(n1, "gp", admin), "main:feature"});
  CHECK(branch.exit_code != 0);
  CHECK_THAT(branch.err, Catch::Contains("deploys from branch main"));
  CHECK(c.cli(n0, {"apps"}).out.find("gp") == std::string::npos);

  // 1. The first push, to node 1: the rollout in git's terminal, every instance answers.
  auto first = git(src, {"push", remote(n1, "gp", admin), "main"});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.err, Catch::Contains("remote: -----> deploying " + v1.substr(0, 12)));
  CHECK_THAT(first.err, Catch::Contains("remote: -----> Done: v1 is live"));
  REQUIRE(wait_for(60s, [&] { return web_up(c.ps(n0, "gp")).size() == 3; }));
  for (const auto& i : web_up(c.ps(n0, "gp"))) {
    auto r = get_port(i.value("port", 0));
    REQUIRE(r.ok());
    CHECK(r->status == 200);
  }
  REQUIRE(wait_for(30s, [&] { return routed_backends(n2, "gp") == 3; }));

  // 2. A change, pushed to the same node, under a client loop through a router.
  RequestLoop loop(through_router(n2, "gp.localhost"), 20ms, 240s);
  REQUIRE(wait_for(10s, [&] { return loop.ok() >= 20; }));
  write_health_web(src, "RELEASE_NOTE = \"two\"\n");
  REQUIRE(git(src, {"commit", "--quiet", "-am", "v2"}).exit_code == 0);
  const std::string v2 = head_commit(src);
  auto second = git(src, {"push", remote(n1, "gp", admin), "main"});
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  REQUIRE(wait_for(60s, [&] {
    json ps = c.ps(n0, "gp");
    auto up = web_up(ps);
    return up.size() == 3 && ps["instances"].size() == 3 &&
           std::all_of(up.begin(), up.end(), [](const json& i) { return i.value("release", 0) == 2; });
  }));
  REQUIRE(wait_for(10s, [&] { return loop.releases_seen().count("v2") == 1; }));
  loop.stop();
  {
    const auto failed = loop.failures();
    INFO(Catch::Detail::stringify(failed));
    CHECK(failed.empty());
  }

  // 3. Node 2 has no repository yet: the same commit is a no-op that says so, a new one
  //    deploys from a full push.
  auto same = git(src, {"push", remote(n2, "gp", admin), "main"});
  INFO(same.out << same.err);
  REQUIRE(same.exit_code == 0);
  CHECK_THAT(same.err, Catch::Contains("already runs " + v2.substr(0, 12) + ": nothing to deploy"));
  std::ofstream(src / "NOTES") << "three\n";
  REQUIRE(git(src, {"add", "NOTES"}).exit_code == 0);
  REQUIRE(git(src, {"commit", "--quiet", "-m", "v3"}).exit_code == 0);
  const std::string v3 = head_commit(src);
  auto third = git(src, {"push", remote(n2, "gp", admin), "main"});
  INFO(third.out << third.err);
  REQUIRE(third.exit_code == 0);
  CHECK_THAT(third.err, Catch::Contains("Done: v3 is live"));

  // 4. The releases name their commits.
  auto releases = c.cli(n0, {"releases", "gp"});
  INFO(releases.out);
  CHECK_THAT(releases.out, Catch::Contains(v1.substr(0, 12)));
  CHECK_THAT(releases.out, Catch::Contains(v2.substr(0, 12)));
  CHECK_THAT(releases.out, Catch::Contains(v3.substr(0, 12)));

  // 5. A build that fails: its output in git's terminal, the push refused, v3 serving.
  {
    std::string toml;
    {
      std::ifstream in(src / "shoal.toml");
      toml.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::ofstream(src / "shoal.toml", std::ios::trunc)
        << "build = \"echo compiling the broken thing; exit 3\"\n" << toml;
  }
  REQUIRE(git(src, {"commit", "--quiet", "-am", "broken build"}).exit_code == 0);
  auto broken = git(src, {"push", remote(n0, "gp", admin), "main"});
  INFO(broken.out << broken.err);
  CHECK(broken.exit_code != 0);
  CHECK_THAT(broken.err, Catch::Contains("remote: compiling the broken thing"));
  CHECK_THAT(broken.err, Catch::Contains("build failed"));
  CHECK_THAT(broken.err, Catch::Contains("pre-receive hook declined"));
  json ps = c.ps(n0, "gp");
  CHECK(ps.value("release", 0) == 3);
  CHECK(web_up(ps).size() == 3);

  // 6. A force push: a history that does not descend from node 1's main (v2) deploys.
  REQUIRE(git(src, {"checkout", "--quiet", "-b", "rewrite", v1}).exit_code == 0);
  std::ofstream(src / "NOTES") << "rewritten\n";
  REQUIRE(git(src, {"add", "NOTES"}).exit_code == 0);
  REQUIRE(git(src, {"commit", "--quiet", "-m", "rewritten"}).exit_code == 0);
  const std::string rewritten = head_commit(src);
  auto plain = git(src, {"push", remote(n1, "gp", admin), "rewrite:main"});
  CHECK(plain.exit_code != 0);  // git itself refuses a non-fast-forward without --force
  auto forced = git(src, {"push", "--force", remote(n1, "gp", admin), "rewrite:main"});
  INFO(forced.out << forced.err);
  REQUIRE(forced.exit_code == 0);
  CHECK_THAT(forced.err, Catch::Contains("deploying " + rewritten.substr(0, 12)));
  CHECK(c.ps(n0, "gp").value("release", 0) == 4);
}

TEST_CASE("git push: apps without a Procfile are detected, built and served",
          "[integration][git][detect]") {
  AppsCluster c(1);
  AgentProcess& n0 = *c.agents[0];
  const std::string admin = test_admin_token();
  std::vector<std::string> examples = {"python-detected", "static-site", "go-web"};
  // npm comes from Debian unless a node install already brings its own (install-deps.sh).
  if (find_program("npm") != "npm") examples.push_back("node-web");
  for (const std::string& example : examples) {
    const fs::path src = c.scratch / example;
    fs::copy(source_dir() / "examples" / example, src, fs::copy_options::recursive);
    REQUIRE(git(src, {"init", "--quiet", "--initial-branch=main"}).exit_code == 0);
    REQUIRE(git(src, {"add", "-A"}).exit_code == 0);
    REQUIRE(git(src, {"commit", "--quiet", "-m", "first"}).exit_code == 0);
    const std::map<std::string, std::string> apps = {{"python-detected", "pydetect"},
                                                     {"static-site", "site"},
                                                     {"go-web", "goweb"},
                                                     {"node-web", "nodeweb"}};
    const std::string app = apps.at(example);
    auto pushed = git(src, {"push", remote(n0, app, admin), "main"});
    INFO(pushed.out << pushed.err);
    REQUIRE(pushed.exit_code == 0);
    json ps;
    REQUIRE(wait_for(30s, [&] { return running(ps = c.ps(n0, app)).size() == 1; }));
    auto r = get_port(running(ps)[0].value("port", 0));
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK_THAT(pushed.err, Catch::Contains("remote: -----> Done"));
    if (app == "site") {
      CHECK_THAT(r->body, Catch::Contains("Hello from a static site"));
    } else if (app == "goweb") {
      CHECK_THAT(pushed.err, Catch::Contains("detected a go app (go.mod)"));
      CHECK_THAT(r->body, Catch::Contains("(go, go1."));
    } else if (app == "nodeweb") {
      CHECK_THAT(pushed.err, Catch::Contains("detected a node app (package.json)"));
      CHECK_THAT(r->body, Catch::Contains("(node v"));
    } else {
      CHECK_THAT(pushed.err, Catch::Contains("detected a python app (requirements.txt)"));
      CHECK_THAT(pushed.err, Catch::Contains("running build: python3 -m venv --copies .venv"));
      // It runs under the virtualenv the build made, not the system's python.
      CHECK_THAT(r->body, Catch::Contains("/.venv"));
    }
  }
}

}  // namespace shoal::test
