// The `shoal` command as users and scripts see it: output, messages and exit codes.
#include <catch2/catch.hpp>

#include "tests/support/process.h"

using namespace shoal::test;

TEST_CASE("cli: version keeps its output", "[node][cli][process]") {
  auto r = run_command({"version"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("shoal ") && Catch::Contains("memberlist protocol"));
}

TEST_CASE("cli: usage errors exit 2", "[node][cli][process]") {
  CHECK(run_command({}).exit_code == 2);
  CHECK(run_command({"frobnicate"}).exit_code == 2);
  CHECK(run_command({"members", "--format", "xml"}).exit_code == 2);
  CHECK(run_command({"members", "--status", "dead"}).exit_code == 2);
  CHECK(run_command({"join"}).exit_code == 2);
  CHECK(run_command({"tags"}).exit_code == 2);
  CHECK(run_command({"tags", "--set", "novalue"}).exit_code == 2);
  CHECK(run_command({"members", "--addr", "ftp://x"}).exit_code == 2);
  CHECK(run_command({"keys"}).exit_code == 2);  // one of --list/--install/--use/--remove
  CHECK(run_command({"keys", "--list", "--remove", "T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s="})
            .exit_code == 2);
  auto short_key = run_command({"keys", "--install", "c2hvcnQ="});
  CHECK(short_key.exit_code == 2);
  CHECK_THAT(short_key.err, Catch::Contains("error: --install: key is 5 bytes"));
  auto not_b64 = run_command({"keys", "--use", "no!"});
  CHECK(not_b64.exit_code == 2);
  CHECK_THAT(not_b64.err, Catch::Contains("error: --use: key is not valid base64"));
  auto bad = run_command({"agent", "--bind", "127.0.0.1:x"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::StartsWith("error: --bind:"));
  CHECK(run_command({"--help"}).exit_code == 0);
}

TEST_CASE("cli: an unreachable agent is exit 1 with the reason", "[node][cli][process]") {
  const std::string addr = "127.0.0.1:" + std::to_string(free_loopback_port());
  auto r = run_command({"members", "--addr", addr});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::StartsWith("error: cannot reach the agent at http://" + addr));
  auto env = run_command({"members"}, 30s, {"SHOAL_ADDR=" + addr});  // env works too
  CHECK(env.exit_code == 1);
  CHECK_THAT(env.err, Catch::Contains(addr));
}

TEST_CASE("cli: verbs against a running agent", "[node][cli][process]") {
  auto a = AgentProcess::start("cli-node", {"--tag", "role=web"});
  {
    INFO(a->log());
    REQUIRE(a->wait_healthy(15s));
  }
  const std::vector<std::string> at = {"--addr", a->http_url()};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), at.begin(), at.end());
    return run_command(args);
  };

  auto table = with({"members"});
  CHECK(table.exit_code == 0);
  // Tags print sorted; the apps layer's own (cat, http, mem) sort before role.
  CHECK_THAT(table.out,
             Catch::StartsWith("Name      Address" +
                               std::string(a->gossip_addr().size() - 7 + 2, ' ') +
                               "Status  Tags\n"
                               "cli-node  " + a->gossip_addr() + "  alive   cat=1,http=") &&
                 Catch::EndsWith(",role=web\n"));

  auto json_out = with({"members", "--format", "json"});
  CHECK(json_out.exit_code == 0);
  auto parsed = nlohmann::json::parse(json_out.out);
  CHECK(parsed.at(0)["name"] == "cli-node");

  CHECK(with({"members", "--status", "failed"}).out == "Name  Address  Status  Tags\n");
  auto bad_re = with({"members", "--name", "(x"});
  CHECK(bad_re.exit_code == 1);
  CHECK_THAT(bad_re.err, Catch::StartsWith("error: name pattern '(x'"));

  auto tags = with({"tags", "--set", "zone=a", "--delete", "role"});
  CHECK(tags.exit_code == 0);
  auto after = with({"members"}).out;
  CHECK_THAT(after, Catch::EndsWith(",zone=a\n"));
  CHECK_THAT(after, !Catch::Contains("role=web"));

  auto force = with({"force-leave", "ghost"});
  CHECK(force.exit_code == 1);
  CHECK_THAT(force.err, Catch::Contains("error: ") && Catch::Contains("ghost"));

  auto join = with({"join", "127.0.0.1:1"});
  CHECK(join.exit_code == 1);
  CHECK_THAT(join.err, Catch::StartsWith("error: join failed"));

  auto leave = with({"leave"});
  INFO("leave stderr: " << leave.err);
  INFO("agent log: " << a->log());
  CHECK(leave.exit_code == 0);
  CHECK(leave.out == "Graceful leave complete\n");
  CHECK(a->wait_for_exit(15s) == 0);
}
