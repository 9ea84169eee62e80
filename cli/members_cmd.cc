// `shoal members`: list the cluster's members as one agent sees them.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "node/text_table.h"

namespace shoal::cli {
namespace {

struct MembersOptions {
  std::string status;
  std::vector<std::string> tags;
  std::string name;
  std::string format = "table";
};

void run_members(Cli& cli, const MembersOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  node::QueryParams query;
  if (!o.status.empty()) query.emplace_back("status", o.status);
  for (const auto& t : o.tags) query.emplace_back("tag", t);
  if (!o.name.empty()) query.emplace_back("name", o.name);
  auto reply = client->call("GET", "/v1/members", query);
  if (!reply.ok()) return fail(cli, reply.status());
  const auto it = reply->find("members");
  if (it == reply->end() || !it->is_array()) {
    return fail(cli, Status::corruption("the agent's answer has no 'members' list"));
  }
  if (o.format == "json") {
    std::printf("%s\n", it->dump(2).c_str());
  } else {
    std::fputs(node::format_members_table(*it).c_str(), stdout);
  }
}

}  // namespace

void add_members_command(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("members", "List the members of the cluster");
  auto o = std::make_shared<MembersOptions>();
  cmd->add_option("--status", o->status, "Only members in this state")
      ->check(CLI::IsMember({"alive", "leaving", "left", "failed"}));
  cmd->add_option("--tag", o->tags, "Only members whose tag KEY matches the regex: KEY=REGEX");
  cmd->add_option("--name", o->name, "Only members whose name matches this regex");
  cmd->add_option("--format", o->format, "Output: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  cmd->callback([&cli, o] { run_members(cli, *o); });
}

}  // namespace shoal::cli
