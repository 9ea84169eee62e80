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
  std::string token_flag;                      // --token / SHOAL_TOKEN
  std::string tls_fingerprint;                 // --tls-fingerprint / SHOAL_TLS_FINGERPRINT
  std::string ca_cert;                         // --ca-cert / SHOAL_CA_CERT
  std::string token;                           // what make_client() sends (credentials.h)
  bool token_resolved = false;
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
// The apps layer (docs/apps.md, "/v1/apps API"):
void add_apps_commands(CLI::App& app, Cli& cli);       // apps [create|destroy], info, stop, start
void add_formation_commands(CLI::App& app, Cli& cli);  // ps, scale, restart
void add_release_commands(CLI::App& app, Cli& cli);    // config [set|unset], releases, rollback
void add_deploy_command(CLI::App& app, Cli& cli);
// `shoal deploy PATH --app APP --commit COMMIT`, for the git push hook.
void deploy_archive(Cli& cli, const std::string& path, const std::string& app,
                    const std::string& commit);
// git remote APP; the hidden git-hook pre-receive (docs/git.md).
void add_git_commands(CLI::App& app, Cli& cli);
void add_logs_command(CLI::App& app, Cli& cli);
void add_events_command(CLI::App& app, Cli& cli);  // lifecycle events (not `event`)
void add_node_commands(CLI::App& app, Cli& cli);  // node drain
// Reporting (docs/reporting.md):
void add_top_commands(CLI::App& app, Cli& cli);  // top, nodes
void add_log_drains_commands(CLI::App& app, Cli& cli);  // log-drains [add|remove]
// The routing mesh (docs/router.md):
void add_routes_commands(CLI::App& app, Cli& cli);  // routes, domains [add|remove]
// Security (docs/security.md):
void add_token_commands(CLI::App& app, Cli& cli);  // token create|list|revoke, login, logout

// ---- helpers shared by the HTTP-client verbs (cli/client.cc) ----

// The client for --addr, or nullopt after printing the error (cli.exit_code = 2).
std::optional<node::ApiClient> make_client(Cli& cli);
// Prints "error: <message>" to stderr and sets cli.exit_code = 1.
void fail(Cli& cli, const Status& status);
// Prints "error: <message>" to stderr and sets cli.exit_code = 2 (a usage error).
void usage_error(Cli& cli, const std::string& message);
// Adds `--format text|json` (text by default; "table" is taken as text) to a verb.
void add_format_option(CLI::App& cmd, std::string& format);
// What --format json prints: the agent's JSON, indented.
void print_json(const nlohmann::json& answer);
// A streamed answer that is not 200: the API's {"error": ...} from `body`, or "HTTP N".
Status stream_failure(int http_status, const std::string& body);

}  // namespace shoal::cli
