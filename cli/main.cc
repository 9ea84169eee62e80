// The `shoal` command: `shoal agent` runs a node; every other verb is an HTTP client of one.
// Exit codes: 0 success, 1 the request failed, 2 usage error (see cli/commands.h).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/version.h"
#include "cli/commands.h"
#include "simulations/sim_cli.h"

namespace shoal::cli {

void add_version_command(CLI::App& app, Cli&) {
  auto* version = app.add_subcommand("version", "Print the version and protocol range");
  version->callback([] {
    std::printf("shoal %s\n", shoal::kVersion);
    std::printf("memberlist protocol %d..%d, serf protocol %d..%d\n",
                shoal::kMemberlistProtocolMin, shoal::kMemberlistProtocolMax,
                shoal::kSerfProtocolMin, shoal::kSerfProtocolMax);
  });
}

}  // namespace shoal::cli

int main(int argc, char** argv) {
  using namespace shoal::cli;
  Cli cli;
  CLI::App app{"Shoal: a peer-to-peer PaaS"};
  app.require_subcommand(1);
  app.fallthrough();  // `shoal members --addr X` reaches the top-level --addr
  app.add_option("--addr", cli.addr,
                 "Address of the agent to talk to: http://, https://, or HOST:PORT (https "
                 "unless HOST is loopback)")
      ->envname("SHOAL_ADDR")
      ->capture_default_str();
  app.add_option("--token", cli.token_flag,
                 "API token (default: SHOAL_TOKEN, then `shoal login`'s, then the admin token "
                 "of a node's data dir on this machine, if readable)")
      ->envname("SHOAL_TOKEN");
  app.add_option("--tls-fingerprint", cli.tls_fingerprint,
                 "Over https, require the agent's TLS key to be this SHA256:... fingerprint "
                 "(default: trust a CA-signed certificate, else pin the key on first use)")
      ->envname("SHOAL_TLS_FINGERPRINT");
  app.add_option("--ca-cert", cli.ca_cert,
                 "Over https, trust the CA certificates in this PEM file (default: the "
                 "system's)")
      ->envname("SHOAL_CA_CERT");
  add_agent_command(app, cli);
  add_members_command(app, cli);
  add_membership_commands(app, cli);
  add_version_command(app, cli);
  add_keygen_command(app, cli);
  add_keys_command(app, cli);
  add_event_commands(app, cli);
  add_raft_commands(app, cli);
  add_shim_command(app, cli);
  add_apps_commands(app, cli);
  add_formation_commands(app, cli);
  add_release_commands(app, cli);
  add_deploy_command(app, cli);
  add_git_commands(app, cli);
  add_logs_command(app, cli);
  add_events_command(app, cli);
  add_node_commands(app, cli);
  add_top_commands(app, cli);
  add_log_drains_commands(app, cli);
  add_routes_commands(app, cli);
  add_token_commands(app, cli);
  shoal::sim::add_sim_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, or the error with a usage hint
    return code == 0 ? kExitOk : kExitUsage;
  }
  return cli.exit_code;
}
