// `shoal apps [create|destroy]`, `shoal info`, `shoal stop`, `shoal start`: the apps of the
// cluster and their desired state (docs/apps.md, "/v1/apps API").
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/apps_render.h"
#include "cli/commands.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

std::string app_path(const std::string& app) {
  return "/v1/apps/" + node::ApiClient::url_encode(app);
}

struct AppOptions {
  std::string app;
  std::string format = "text";
  std::string confirm;
};

void run_list(Cli& cli, const AppOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("GET", "/v1/apps");
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  std::fputs(render_apps_table(*reply).c_str(), stdout);
}

void run_create(Cli& cli, const AppOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  json body = {{"name", o.app}};
  auto reply = client->call("POST", "/v1/apps", {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  std::printf("Created app %s (group %s)\n", o.app.c_str(), json_text(*reply, "group").c_str());
}

// Like Heroku: destroying an app needs its name typed again, as --confirm NAME or, on a
// terminal, at a prompt.
bool confirmed(const AppOptions& o) {
  if (!o.confirm.empty()) return o.confirm == o.app;
  if (!::isatty(STDIN_FILENO)) return false;
  std::fprintf(stderr,
               "Destroying %s stops all its instances and deletes its releases and config.\n"
               "Type the app's name to confirm: ",
               o.app.c_str());
  std::string typed;
  std::getline(std::cin, typed);
  return typed == o.app;
}

void run_destroy(Cli& cli, const AppOptions& o) {
  if (!confirmed(o)) {
    return usage_error(cli, o.confirm.empty()
                                ? "destroying " + o.app + " cannot be undone; re-run with --confirm " + o.app
                                : "--confirm " + o.confirm + " does not match the app " + o.app +
                                      "; nothing was destroyed");
  }
  auto client = make_client(cli);
  if (!client) return;
  client->set_timeout(std::chrono::minutes(2));  // stops every instance first
  auto reply = client->call("DELETE", app_path(o.app));
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  std::printf("Destroyed app %s\n", o.app.c_str());
}

void run_info(Cli& cli, const AppOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("GET", app_path(o.app));
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  std::fputs(render_app_info(*reply).c_str(), stdout);
}

void run_stop_start(Cli& cli, const AppOptions& o, bool stop) {
  auto client = make_client(cli);
  if (!client) return;
  json body = json::object();
  auto reply = client->call("POST", app_path(o.app) + (stop ? "/stop" : "/start"), {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  std::printf(stop ? "Stopped %s: its instances are stopping\n"
                   : "Started %s: its formation is starting\n",
              o.app.c_str());
}

CLI::App* app_verb(CLI::App& parent, const char* name, const char* what,
                   std::shared_ptr<AppOptions>& o) {
  o = std::make_shared<AppOptions>();
  auto* cmd = parent.add_subcommand(name, what);
  cmd->add_option("NAME", o->app, "App name")->required();
  add_format_option(*cmd, o->format);
  return cmd;
}

}  // namespace

void add_apps_commands(CLI::App& app, Cli& cli) {
  auto* apps = app.add_subcommand("apps", "List the apps, or create or destroy one");
  apps->require_subcommand(0, 1);
  auto lo = std::make_shared<AppOptions>();
  add_format_option(*apps, lo->format);
  apps->callback([&cli, apps, lo] {
    if (apps->get_subcommands().empty()) run_list(cli, *lo);
  });

  std::shared_ptr<AppOptions> co;
  app_verb(*apps, "create", "Create an app (a first deploy also does)", co)
      ->callback([&cli, co] { run_create(cli, *co); });
  std::shared_ptr<AppOptions> dopt;
  auto* destroy = app_verb(*apps, "destroy", "Stop an app's instances and delete it", dopt);
  destroy->add_option("--confirm", dopt->confirm, "The app's name again: destroy cannot be undone");
  destroy->callback([&cli, dopt] { run_destroy(cli, *dopt); });

  std::shared_ptr<AppOptions> io;
  app_verb(app, "info", "Show an app: its group, leader, release and formation", io)
      ->callback([&cli, io] { run_info(cli, *io); });
  std::shared_ptr<AppOptions> so;
  app_verb(app, "stop", "Stop every instance of an app (its formation is kept)", so)
      ->callback([&cli, so] { run_stop_start(cli, *so, true); });
  std::shared_ptr<AppOptions> sto;
  app_verb(app, "start", "Start a stopped app's formation again", sto)
      ->callback([&cli, sto] { run_stop_start(cli, *sto, false); });
}

}  // namespace shoal::cli
