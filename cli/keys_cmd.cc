// `shoal keys --list | --install KEY | --use KEY | --remove KEY`: the gossip keyring of
// every member, changed or listed through the agent (GET /v1/keys, POST
// /v1/keys/install|use|remove), which asks serf's keyring queries: serf and Shoal members
// alike answer. The per-node report is printed; any member that failed (or did not
// answer) makes the command fail (exit 1), naming each failure.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "gossip/keyring.h"
#include "node/text_table.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

struct KeysOptions {
  bool list = false;
  std::string install, use, remove;
  std::string format = "table";
};

struct Verb {
  std::string flag;  // "--install"
  std::string path;  // "/v1/keys/install"
  std::string key;   // empty for --list
  std::string done;  // what success says
};

// Messages of the members that failed, or that succeeded with a warning, one per line.
void print_messages(const json& report, bool failed) {
  auto m = report.find("messages");
  if (m == report.end() || !m->is_object()) return;
  for (const auto& [node, text] : m->items()) {
    if (!text.is_string()) continue;
    std::fprintf(stderr, "  %s %s: %s\n", failed ? "failed:" : "warning:", node.c_str(),
                 text.get<std::string>().c_str());
  }
}

void print_key_table(const json& report) {
  const int total = report.value("num_nodes", 0);
  const json keys = report.value("keys", json::object());
  const json primary = report.value("primary_keys", json::object());
  std::vector<node::TableRow> rows;
  for (const auto& [key, count] : keys.items()) {
    const int n = count.is_number_integer() ? count.get<int>() : 0;
    const int p = primary.contains(key) && primary[key].is_number_integer()
                      ? primary[key].get<int>()
                      : 0;
    rows.push_back({key, std::to_string(n) + "/" + std::to_string(total), std::to_string(p)});
  }
  std::printf("%s", node::render_table({"Key", "Installed on", "Primary on"}, rows).c_str());
}

void run_keys(Cli& cli, const KeysOptions& o) {
  const int chosen = int(o.list) + int(!o.install.empty()) + int(!o.use.empty()) +
                     int(!o.remove.empty());
  if (chosen != 1) {
    std::fprintf(stderr, "error: give exactly one of --list, --install KEY, --use KEY, --remove KEY\n");
    cli.exit_code = kExitUsage;
    return;
  }
  if (o.format != "table" && o.format != "json") {
    std::fprintf(stderr, "error: --format must be table or json, not '%s'\n", o.format.c_str());
    cli.exit_code = kExitUsage;
    return;
  }
  const Verb verb = o.list              ? Verb{"--list", "/v1/keys", "", ""}
                    : !o.install.empty() ? Verb{"--install", "/v1/keys/install", o.install,
                                                "installed the key on"}
                    : !o.use.empty()     ? Verb{"--use", "/v1/keys/use", o.use,
                                                "made the key primary on"}
                                         : Verb{"--remove", "/v1/keys/remove", o.remove,
                                                "removed the key from"};
  if (!o.list) {
    if (auto key = gossip::key_from_base64(verb.key); !key.ok()) {
      std::fprintf(stderr, "error: %s: %s\n", verb.flag.c_str(), key.status().message().c_str());
      cli.exit_code = kExitUsage;
      return;
    }
  }
  auto client = make_client(cli);
  if (!client) return;
  // The agent answers once every member did, or at the query's deadline (seconds).
  client->set_timeout(std::chrono::seconds(90));
  auto reply = o.list ? client->send("GET", verb.path)
                      : client->send("POST", verb.path, json{{"key", verb.key}}.dump());
  if (!reply.ok()) return fail(cli, reply.status());
  const json report = json::parse(reply->body, nullptr, false);
  if (!report.is_object()) {
    return fail(cli, Status::corruption("the agent's answer is not a JSON object: " + reply->body));
  }
  // 200: every member succeeded; 502: the report says who did not; others: the request failed.
  if (reply->status != 200 && reply->status != 502) {
    return fail(cli, Status::unavailable(
                         report.value("error", "HTTP " + std::to_string(reply->status))));
  }
  const bool ok = reply->status == 200;
  if (o.format == "json") {
    std::printf("%s\n", report.dump(2).c_str());
  } else if (o.list) {
    print_key_table(report);
  } else if (ok) {
    std::printf("Successfully %s %d of %d nodes.\n", verb.done.c_str(),
                report.value("num_responses", 0), report.value("num_nodes", 0));
  }
  std::fflush(stdout);
  if (ok) {
    print_messages(report, /*failed=*/false);
    return;
  }
  std::fprintf(stderr, "error: %s (%d of %d nodes answered)\n",
               report.value("error", std::string("some nodes failed")).c_str(),
               report.value("num_responses", 0), report.value("num_nodes", 0));
  print_messages(report, /*failed=*/true);
  cli.exit_code = kExitFailed;
}

}  // namespace

void add_keys_command(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand(
      "keys", "List, install, use or remove a gossip encryption key on every member");
  auto o = std::make_shared<KeysOptions>();
  cmd->add_flag("--list", o->list, "List the keys each member holds, and its primary");
  cmd->add_option("--install", o->install, "Install KEY (base64) on every member");
  cmd->add_option("--use", o->use, "Make KEY (installed) the primary key on every member");
  cmd->add_option("--remove", o->remove, "Remove KEY (not the primary) from every member");
  cmd->add_option("--format", o->format, "table or json")->capture_default_str();
  cmd->callback([&cli, o] { run_keys(cli, *o); });
}

}  // namespace shoal::cli
