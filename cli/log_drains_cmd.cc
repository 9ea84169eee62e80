// `shoal log-drains`: the cluster's log drains (docs/reporting.md, "Drains"), where every
// app's log lines are forwarded as they are written; `add URL` and `remove URL` change them.
#include <cstdio>
#include <memory>

#include "cli/commands.h"

namespace shoal::cli {
namespace {

void run_list(Cli& cli, const std::string& format) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("GET", "/v1/log-drains");
  if (!reply.ok()) return fail(cli, reply.status());
  if (format == "json") return print_json(*reply);
  const auto drains = reply->value("drains", nlohmann::json::array());
  if (drains.empty()) {
    std::printf("No log drains: app log lines stay on their nodes (shoal logs reads them)\n");
    return;
  }
  for (const auto& d : drains) std::printf("%s\n", d.value("url", "").c_str());
}

void run_add(Cli& cli, const std::string& url, const std::string& format) {
  auto client = make_client(cli);
  if (!client) return;
  const nlohmann::json body = {{"url", url}};
  auto reply = client->call("POST", "/v1/log-drains", {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  if (format == "json") return print_json(*reply);
  std::printf("Every app's log lines now also go to %s\n", url.c_str());
}

void run_remove(Cli& cli, const std::string& url, const std::string& format) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->send("DELETE", "/v1/log-drains?url=" + node::ApiClient::url_encode(url));
  if (!reply.ok()) return fail(cli, reply.status());
  if (reply->status != 200) return fail(cli, stream_failure(reply->status, reply->body));
  if (format == "json") return print_json(nlohmann::json::parse(reply->body, nullptr, false));
  std::printf("Removed the log drain %s\n", url.c_str());
}

}  // namespace

void add_log_drains_commands(CLI::App& app, Cli& cli) {
  auto* drains = app.add_subcommand(
      "log-drains", "List where every app's log lines are forwarded (syslog or HTTP)");
  auto format = std::make_shared<std::string>("text");
  add_format_option(*drains, *format);
  drains->callback([&cli, drains, format] {
    if (drains->get_subcommands().empty()) run_list(cli, *format);
  });

  auto url = std::make_shared<std::string>();
  auto* add = drains->add_subcommand(
      "add", "Forward every app's log lines to URL: syslog+tcp://HOST:PORT, "
             "syslog+udp://HOST:PORT or http://HOST:PORT/PATH");
  add->add_option("URL", *url, "Where to")->required();
  add_format_option(*add, *format);
  add->callback([&cli, url, format] { run_add(cli, *url, *format); });

  auto* remove = drains->add_subcommand("remove", "Stop forwarding to URL");
  remove->add_option("URL", *url, "The drain, as listed")->required();
  add_format_option(*remove, *format);
  remove->callback([&cli, url, format] { run_remove(cli, *url, *format); });
}

}  // namespace shoal::cli
