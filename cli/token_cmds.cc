// `shoal token create|list|revoke|self` and `shoal login|logout` (docs/security.md): API
// tokens with scopes (admin, read, deploy:APP), made and revoked through any node, and the
// token the CLI keeps for an agent address.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/credentials.h"
#include "node/text_table.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

std::string scopes_of(const json& t) {
  std::string out;
  for (const auto& s : t.value("scopes", json::array())) {
    out += (out.empty() ? "" : ",") + s.get<std::string>();
  }
  return out;
}

std::string when(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

void run_create(Cli& cli, const std::vector<std::string>& scopes, const std::string& name,
                const std::string& format) {
  auto client = make_client(cli);
  if (!client) return;
  json body = {{"scopes", scopes}};
  if (!name.empty()) body["name"] = name;
  auto reply = client->call("POST", "/v1/tokens", {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  if (format == "json") return print_json(*reply);
  std::printf("%s\n", reply->value("token", "").c_str());
  std::fprintf(stderr,
               "Token %s%s with scopes %s. It is shown only now: keep it (shoal login, or "
               "SHOAL_TOKEN).\n",
               reply->value("id", "").c_str(),
               name.empty() ? "" : (" (" + name + ")").c_str(), scopes_of(*reply).c_str());
}

void run_list(Cli& cli, const std::string& format) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("GET", "/v1/tokens");
  if (!reply.ok()) return fail(cli, reply.status());
  if (format == "json") return print_json(*reply);
  std::vector<node::TableRow> rows;
  for (const auto& t : reply->value("tokens", json::array())) {
    rows.push_back({t.value("id", ""), t.value("name", ""), scopes_of(t),
                    when(t.value("created_ms", int64_t{0})), t.value("created_by", "")});
  }
  std::printf("%s", node::render_table({"ID", "NAME", "SCOPES", "CREATED", "BY"}, rows).c_str());
}

void run_revoke(Cli& cli, const std::string& which, const std::string& format) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("DELETE", "/v1/tokens/" + node::ApiClient::url_encode(which));
  if (!reply.ok()) return fail(cli, reply.status());
  if (format == "json") return print_json(*reply);
  std::printf("Revoked token %s%s: every node refuses it from now on\n",
              reply->value("id", "").c_str(),
              reply->value("name", "").empty() ? "" : (" (" + reply->value("name", "") + ")").c_str());
}

void run_self(Cli& cli, const std::string& format) {
  auto client = make_client(cli);
  if (!client) return;
  if (!client->has_token()) {
    return fail(cli, Status::unauthenticated("no API token: use --token, SHOAL_TOKEN or shoal login"));
  }
  auto reply = client->call("GET", "/v1/token");
  if (!reply.ok()) return fail(cli, reply.status());
  if (format == "json") return print_json(*reply);
  std::printf("token %s%s, scopes %s\n", reply->value("id", "").c_str(),
              reply->value("name", "").empty() ? "" : (" (" + reply->value("name", "") + ")").c_str(),
              scopes_of(*reply).c_str());
}

// A line from stdin; without echo when it is a terminal.
std::string read_secret(const char* prompt) {
  const bool tty = ::isatty(STDIN_FILENO) != 0;
  termios old{};
  if (tty) {
    std::fprintf(stderr, "%s", prompt);
    ::tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

void run_login(Cli& cli, std::string token) {
  auto client = node::ApiClient::create(cli.addr);
  if (!client.ok()) return usage_error(cli, "--addr: " + client.status().message());
  if (token.empty()) token = cli.token_flag;
  if (token.empty()) token = read_secret("API token: ");
  if (token.empty()) return usage_error(cli, "no token given (pass it with --token or on stdin)");
  client->set_token(token);
  auto who = client->call("GET", "/v1/token");
  if (!who.ok()) return fail(cli, who.status());
  if (Status s = store_token(client->base_url(), token); !s.ok()) return fail(cli, s);
  std::printf("Logged in to %s as token %s%s (%s); saved in %s\n", client->base_url().c_str(),
              who->value("id", "").c_str(),
              who->value("name", "").empty() ? "" : (" (" + who->value("name", "") + ")").c_str(),
              scopes_of(*who).c_str(), credentials_file().c_str());
}

void run_logout(Cli& cli) {
  auto client = node::ApiClient::create(cli.addr);
  if (!client.ok()) return usage_error(cli, "--addr: " + client.status().message());
  if (!stored_token(client->base_url())) {
    std::printf("No token stored for %s\n", client->base_url().c_str());
    return;
  }
  if (Status s = store_token(client->base_url(), ""); !s.ok()) return fail(cli, s);
  std::printf("Forgot the token for %s\n", client->base_url().c_str());
}

}  // namespace

void add_token_commands(CLI::App& app, Cli& cli) {
  auto* token = app.add_subcommand("token", "API tokens: create, list, revoke (admin scope)");
  token->require_subcommand(1);
  auto format = std::make_shared<std::string>("text");

  auto scopes = std::make_shared<std::vector<std::string>>();
  auto name = std::make_shared<std::string>();
  auto* create = token->add_subcommand(
      "create", "Make a token; prints it once (scopes: admin, read, deploy:APP)");
  create->add_option("--scope", *scopes, "admin | read | deploy:APP; repeatable")->required();
  create->add_option("--name", *name, "A name to list and revoke it by ([A-Za-z0-9._-])");
  add_format_option(*create, *format);
  create->callback([&cli, scopes, name, format] { run_create(cli, *scopes, *name, *format); });

  auto* list = token->add_subcommand("list", "The cluster's tokens (never their secrets)");
  add_format_option(*list, *format);
  list->callback([&cli, format] { run_list(cli, *format); });

  auto which = std::make_shared<std::string>();
  auto* revoke = token->add_subcommand("revoke", "Revoke a token on every node, by id or name");
  revoke->add_option("TOKEN", *which, "Its id or name")->required();
  add_format_option(*revoke, *format);
  revoke->callback([&cli, which, format] { run_revoke(cli, *which, *format); });

  auto* self = token->add_subcommand("self", "Which token this CLI sends, and its scopes");
  add_format_option(*self, *format);
  self->callback([&cli, format] { run_self(cli, *format); });

  auto login_token = std::make_shared<std::string>();
  auto* login = app.add_subcommand(
      "login", "Check a token against the agent at --addr and keep it for this address");
  login->add_option("TOKEN", *login_token, "The token (default: --token, or read from stdin)");
  login->callback([&cli, login_token] { run_login(cli, *login_token); });

  auto* logout = app.add_subcommand("logout", "Forget the token kept for --addr");
  logout->callback([&cli] { run_logout(cli); });
}

}  // namespace shoal::cli
