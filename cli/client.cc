// Helpers shared by the verbs that are HTTP clients of an agent.
#include <cstdio>

#include "cli/commands.h"
#include "cli/credentials.h"
#include "cli/known_hosts.h"

namespace shoal::cli {

std::optional<node::ApiClient> make_client(Cli& cli) {
  auto client = node::ApiClient::create(cli.addr);
  if (!client.ok()) {
    std::fprintf(stderr, "error: --addr: %s\n", client.status().message().c_str());
    cli.exit_code = kExitUsage;
    return std::nullopt;
  }
  if (client->uses_tls()) {
    auto options = std::make_shared<node::TlsClientOptions>();
    options->ca_file = cli.ca_cert;
    TrustSettings trust;
    trust.expected_fingerprint = cli.tls_fingerprint;
    trust.known_hosts = known_hosts_file();
    std::string where = client->base_url().substr(std::string_view("https://").size());
    options->accept = [trust, where](const node::TlsPeer& peer) {
      return judge_server(trust, where, peer);
    };
    client->set_tls_options(std::move(options));
  }
  // Resolved once per run (credentials.h), then sent with every request.
  if (!cli.token_resolved) {
    cli.token = resolve_token(*client, cli.token_flag).token;
    cli.token_resolved = true;
  }
  client->set_token(cli.token);
  return std::move(*client);
}

void fail(Cli& cli, const Status& status) {
  std::fprintf(stderr, "error: %s\n", status.message().c_str());
  cli.exit_code = kExitFailed;
}

void usage_error(Cli& cli, const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  cli.exit_code = kExitUsage;
}

void add_format_option(CLI::App& cmd, std::string& format) {
  cmd.add_option("--format", format, "Output: text or json (the agent's answer)")
      ->check(CLI::IsMember({"text", "table", "json"}))
      ->capture_default_str();
}

void print_json(const nlohmann::json& answer) { std::printf("%s\n", answer.dump(2).c_str()); }

Status stream_failure(int http_status, const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::string message = "HTTP " + std::to_string(http_status);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) message = j["error"].get<std::string>();
  switch (http_status) {
    case 401: return Status::unauthenticated(message);
    case 403: return Status::permission_denied(message);
    case 404: return Status::not_found(message);
    case 409: return Status::failed_precondition(message);
    case 502:
    case 503: return Status::unavailable(message);
    default: return http_status < 500 ? Status::invalid_argument(message) : Status::internal(message);
  }
}

}  // namespace shoal::cli
