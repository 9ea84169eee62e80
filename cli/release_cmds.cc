// `shoal config [set|unset]`, `shoal releases`, `shoal rollback`: an app's config vars and
// releases. Every config change and every rollback is a new release (docs/apps.md).
#include <charconv>
#include <cstdio>
#include <memory>

#include "cli/apps_render.h"
#include "cli/commands.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

std::string app_path(const std::string& app) {
  return "/v1/apps/" + node::ApiClient::url_encode(app);
}

// Config var names as a shell takes them: a letter or '_', then letters, digits, '_'.
bool is_var_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '_') return false;
  }
  return true;
}

struct ConfigOptions {
  std::string app;
  std::vector<std::string> vars;  // K=V for set, K for unset
  std::string format = "text";
};

void run_config_show(Cli& cli, const ConfigOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("GET", app_path(o.app) + "/config");
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  std::fputs(render_config(*reply).c_str(), stdout);
}

void change_config(Cli& cli, const ConfigOptions& o, const json& body, const std::string& what) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("POST", app_path(o.app) + "/config", {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  std::printf("%s on %s: release v%s\n", what.c_str(), o.app.c_str(),
              json_text(*reply, "release").c_str());
}

void run_config_set(Cli& cli, const ConfigOptions& o) {
  json set = json::object();
  std::string names;
  for (const auto& kv : o.vars) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) {
      return usage_error(cli, "config set: '" + kv + "' is not KEY=VALUE");
    }
    const std::string key = kv.substr(0, eq);
    if (!is_var_name(key)) {
      return usage_error(cli, "config set: '" + key +
                                  "' is not a variable name (letters, digits and _, not first a digit)");
    }
    set[key] = kv.substr(eq + 1);
    names += (names.empty() ? "" : ", ") + key;
  }
  change_config(cli, o, {{"set", set}}, "Set " + names);
}

void run_config_unset(Cli& cli, const ConfigOptions& o) {
  std::string names;
  for (const auto& key : o.vars) {
    if (!is_var_name(key)) {
      return usage_error(cli, "config unset: '" + key + "' is not a variable name");
    }
    names += (names.empty() ? "" : ", ") + key;
  }
  change_config(cli, o, {{"unset", o.vars}}, "Unset " + names);
}

struct ReleasesOptions {
  std::string app;
  std::string version;  // rollback: "v3", "3" or "" (the one before current)
  std::string format = "text";
};

void run_releases(Cli& cli, const ReleasesOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("GET", app_path(o.app) + "/releases");
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  std::fputs(render_releases_table(*reply).c_str(), stdout);
}

void run_rollback(Cli& cli, const ReleasesOptions& o) {
  json body = json::object();
  if (!o.version.empty()) {
    std::string_view text = o.version;
    if (text.starts_with("v")) text.remove_prefix(1);
    uint64_t version = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
    if (ec != std::errc() || end != text.data() + text.size() || version == 0) {
      return usage_error(cli, "rollback: '" + o.version + "' is not a release (e.g. v3 or 3)");
    }
    body["version"] = version;
  }
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("POST", app_path(o.app) + "/rollback", {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  std::printf("Rolled back %s%s: release v%s\n", o.app.c_str(),
              o.version.empty() ? "" : (" to " + o.version).c_str(),
              json_text(*reply, "release").c_str());
}

}  // namespace

void add_release_commands(CLI::App& app, Cli& cli) {
  auto* config = app.add_subcommand("config", "Show an app's config vars, or set or unset some");
  config->require_subcommand(0, 1);
  auto co = std::make_shared<ConfigOptions>();
  config->add_option("NAME", co->app, "App name");
  add_format_option(*config, co->format);
  config->callback([&cli, config, co] {
    if (!config->get_subcommands().empty()) return;
    if (co->app.empty()) return usage_error(cli, "config: give the app's NAME");
    run_config_show(cli, *co);
  });
  auto* set = config->add_subcommand("set", "Set config vars: a new release, rolled out");
  auto so = std::make_shared<ConfigOptions>();
  set->add_option("NAME", so->app, "App name")->required();
  set->add_option("KEY=VALUE", so->vars, "Vars to set")->required();
  add_format_option(*set, so->format);
  set->callback([&cli, so] { run_config_set(cli, *so); });
  auto* unset = config->add_subcommand("unset", "Remove config vars: a new release, rolled out");
  auto uo = std::make_shared<ConfigOptions>();
  unset->add_option("NAME", uo->app, "App name")->required();
  unset->add_option("KEY", uo->vars, "Vars to remove")->required();
  add_format_option(*unset, uo->format);
  unset->callback([&cli, uo] { run_config_unset(cli, *uo); });

  auto* releases = app.add_subcommand("releases", "List an app's releases, the current one marked *");
  auto ro = std::make_shared<ReleasesOptions>();
  releases->add_option("NAME", ro->app, "App name")->required();
  add_format_option(*releases, ro->format);
  releases->callback([&cli, ro] { run_releases(cli, *ro); });

  auto* rollback = app.add_subcommand("rollback", "Make a new release equal to an earlier one");
  auto bo = std::make_shared<ReleasesOptions>();
  rollback->add_option("NAME", bo->app, "App name")->required();
  rollback->add_option("VERSION", bo->version, "vN or N; default: the release before the current one");
  add_format_option(*rollback, bo->format);
  rollback->callback([&cli, bo] { run_rollback(cli, *bo); });
}

}  // namespace shoal::cli
