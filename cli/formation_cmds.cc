// `shoal ps`, `shoal scale`, `shoal restart`: an app's instances and how many of each
// process type it runs (docs/apps.md, "/v1/apps API").
#include <charconv>
#include <chrono>
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

struct PsOptions {
  std::string app;
  std::string format = "text";
};

void run_ps(Cli& cli, const PsOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("GET", app_path(o.app) + "/ps");
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  std::fputs(render_ps_table(*reply, now_ms).c_str(), stdout);
}

struct ScaleOptions {
  std::string app;
  std::vector<std::string> pairs;
  std::string format = "text";
};

// "web=3" -> ("web", 3). The count is a whole number, 0 stops the type.
Result<std::pair<std::string, int>> parse_scale_pair(const std::string& pair) {
  constexpr int kCountMax = 1000;
  const auto eq = pair.find('=');
  if (eq == std::string::npos || eq == 0) {
    return Status::invalid_argument("'" + pair + "' is not TYPE=COUNT (e.g. web=3)");
  }
  const std::string count_text = pair.substr(eq + 1);
  int count = -1;
  auto [end, ec] = std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
  if (ec != std::errc() || end != count_text.data() + count_text.size() || count < 0 ||
      count > kCountMax) {
    return Status::invalid_argument("'" + pair + "': the count must be a whole number from 0 to " +
                                    std::to_string(kCountMax));
  }
  return std::make_pair(pair.substr(0, eq), count);
}

void run_scale(Cli& cli, const ScaleOptions& o) {
  json body = json::object();
  for (const auto& p : o.pairs) {
    auto kv = parse_scale_pair(p);
    if (!kv.ok()) return usage_error(cli, "scale: " + kv.status().message());
    if (body.contains(kv->first)) return usage_error(cli, "scale: '" + kv->first + "' is given twice");
    body[kv->first] = kv->second;
  }
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->call("POST", app_path(o.app) + "/scale", {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  // The answer is the new formation; some agents wrap it as {"formation": {...}}.
  const json& formation = reply->is_object() && reply->contains("formation") ? (*reply)["formation"]
                                                                             : *reply;
  std::printf("Scaled %s:\n", o.app.c_str());
  std::fputs(render_formation_table(formation).c_str(), stdout);
}

struct RestartOptions {
  std::string app;
  std::string target;
  std::string format = "text";
};

void run_restart(Cli& cli, const RestartOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  json body = json::object();
  if (!o.target.empty()) body["target"] = o.target;
  auto reply = client->call("POST", app_path(o.app) + "/restart", {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  std::string ids;
  size_t n = 0;
  if (auto it = reply->find("restarted"); it != reply->end() && it->is_array()) {
    for (const auto& id : *it) {
      ids += (n++ == 0 ? "" : ", ") + (id.is_string() ? id.get<std::string>() : id.dump());
    }
  }
  std::printf("Restarting %zu instance%s of %s%s%s\n", n, n == 1 ? "" : "s", o.app.c_str(),
              n ? ": " : "", ids.c_str());
  // An instance id restarts in place; an app or a type is replaced rolling (scheduler.h).
  const bool one = n == 1 && o.target.find('.') != std::string::npos;
  if (n > 0 && !one) {
    std::printf("Each is replaced by a new instance once that one is up (`shoal ps %s`)\n",
                o.app.c_str());
  }
}

}  // namespace

void add_formation_commands(CLI::App& app, Cli& cli) {
  auto* ps = app.add_subcommand("ps", "List an app's instances: where, which release, state");
  auto po = std::make_shared<PsOptions>();
  ps->add_option("NAME", po->app, "App name")->required();
  add_format_option(*ps, po->format);
  ps->callback([&cli, po] { run_ps(cli, *po); });

  auto* scale = app.add_subcommand("scale", "Set how many instances of each process type run");
  auto so = std::make_shared<ScaleOptions>();
  scale->add_option("NAME", so->app, "App name")->required();
  scale->add_option("TYPE=COUNT", so->pairs, "e.g. web=3 worker=1")->required();
  add_format_option(*scale, so->format);
  scale->callback([&cli, so] { run_scale(cli, *so); });

  auto* restart = app.add_subcommand("restart", "Restart an app's instances: all, one type, or one");
  auto ro = std::make_shared<RestartOptions>();
  restart->add_option("NAME", ro->app, "App name")->required();
  restart->add_option("TARGET", ro->target, "A process type (web) or an instance id (web.3f9a1c)");
  add_format_option(*restart, ro->format);
  restart->callback([&cli, ro] { run_restart(cli, *ro); });
}

}  // namespace shoal::cli
