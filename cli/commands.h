// cli/commands.h
//
// The verbs of the `shoal` command. Each add_*() registers one verb (or a small group) on
// the top-level app; its callback stores the process exit code in `Cli::exit_code`:
// 0 success, 1 the request or the agent failed (message on stderr as "error: ..."),
// 2 a usage error (bad flag value). CLI11's own parse errors also exit 2 (see main.cc).
//
// Thread: the CLI is single-threaded, except `shoal agent`, which runs a node (node/agent.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "base/status.h"
#include "node/api_client.h"

namespace shoal::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

struct Cli {
  std::string addr = "http://127.0.0.1:8080";  // --addr / SHOAL_ADDR
  int exit_code = kExitOk;
};

void add_agent_command(CLI::App& app, Cli& cli);
void add_members_command(CLI::App& app, Cli& cli);
void add_membership_commands(CLI::App& app, Cli& cli);  // join, leave, force-leave, tags
void add_version_command(CLI::App& app, Cli& cli);
void add_keygen_command(CLI::App& app, Cli& cli);
void add_keys_command(CLI::App& app, Cli& cli);  // keys --list|--install|--use|--remove
void add_event_commands(CLI::App& app, Cli& cli);  // event, query, monitor
void add_raft_commands(CLI::App& app, Cli& cli);  // raft status, raft transfer
void add_shim_command(CLI::App& app, Cli& cli);  // hidden: one app instance (supervisor)

// ---- helpers shared by the HTTP-client verbs (cli/client.cc) ----

// The client for --addr, or nullopt after printing the error (cli.exit_code = 2).
std::optional<node::ApiClient> make_client(Cli& cli);
// Prints "error: <message>" to stderr and sets cli.exit_code = 1.
void fail(Cli& cli, const Status& status);

}  // namespace shoal::cli
