// The apps verbs of the real `shoal` binary: usage errors are caught before any agent is
// asked (exit 2, naming what was wrong), and an unreachable agent is exit 1. The verbs
// against running agents are tested with the apps layer itself (issue 7).
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "tests/support/process.h"

using namespace shoal::test;

namespace {

// Each usage error must be caught before a connection: point --addr at nothing.
CommandResult run_offline(std::vector<std::string> args) {
  args.push_back("--addr");
  args.push_back("127.0.0.1:" + std::to_string(free_loopback_port()));
  return run_command(args);
}

void check_usage(const std::vector<std::string>& args, const std::string& message) {
  auto r = run_offline(args);
  INFO("shoal " << Catch::Detail::stringify(args) << "\nstderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(message));
  CHECK(r.out.empty());
}

}  // namespace

TEST_CASE("cli apps: bad arguments are usage errors naming the problem", "[node][cli][cli-apps][process]") {
  check_usage({"scale", "hello", "web=x"}, "error: scale: 'web=x': the count must be a whole number");
  check_usage({"scale", "hello", "web"}, "error: scale: 'web' is not TYPE=COUNT");
  check_usage({"scale", "hello", "=3"}, "error: scale: '=3' is not TYPE=COUNT");
  check_usage({"scale", "hello", "web=1", "web=2"}, "error: scale: 'web' is given twice");
  check_usage({"scale", "hello"}, "TYPE=COUNT is required");
  check_usage({"config", "set", "hello", "NOVALUE"}, "error: config set: 'NOVALUE' is not KEY=VALUE");
  check_usage({"config", "set", "hello", "1X=2"}, "error: config set: '1X' is not a variable name");
  check_usage({"config", "unset", "hello", "BAD-NAME"}, "error: config unset: 'BAD-NAME' is not a variable name");
  check_usage({"config"}, "error: config: give the app's NAME");
  check_usage({"rollback", "hello", "vx"}, "error: rollback: 'vx' is not a release");
  check_usage({"rollback", "hello", "0"}, "error: rollback: '0' is not a release");
  check_usage({"apps", "destroy", "hello"}, "error: destroying hello cannot be undone; re-run with --confirm hello");
  check_usage({"apps", "destroy", "hello", "--confirm", "other"},
              "error: --confirm other does not match the app hello; nothing was destroyed");
  check_usage({"logs", "hello", "-n", "-3"}, "--lines: Value -3 not in range 0 to 1000000");
  check_usage({"apps", "--format", "xml"}, "--format");
  check_usage({"node"}, "subcommand");
  check_usage({"node", "drain"}, "NAME is required");
}

TEST_CASE("cli apps: an unreachable agent is exit 1 naming it", "[node][cli][cli-apps][process]") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"apps"}, {"info", "hello"}, {"scale", "hello", "web=2"},
        {"logs", "hello"}, {"node", "drain", "node-b"}, {"apps", "destroy", "x", "--confirm", "x"}}) {
    auto r = run_offline(args);
    INFO("shoal " << Catch::Detail::stringify(args) << "\nstderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error: cannot reach the agent at http://127.0.0.1:"));
  }
}
