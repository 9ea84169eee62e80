// `shoal raft status [GROUP]` and `shoal raft transfer GROUP NODE`: the Raft groups this
// agent hosts (GET /v1/raft/groups[/ID]) and leadership transfer.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "node/text_table.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

struct StatusOptions {
  std::string group;
  std::string format = "table";
};

void run_status(Cli& cli, const StatusOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  if (o.group.empty()) {
    auto reply = client->call("GET", "/v1/raft/groups");
    if (!reply.ok()) return fail(cli, reply.status());
    if (o.format == "json") {
      std::printf("%s\n", reply->dump(2).c_str());
      return;
    }
    std::vector<node::TableRow> rows;
    for (const auto& g : reply->value("groups", json::array())) {
      rows.push_back({str(g, "id"), str(g, "role"), str(g, "term"), str(g, "leader"),
                      str(g, "commit"), str(g, "applied"),
                      std::to_string(g.value("voters", json::array()).size())});
    }
    std::fputs(node::render_table({"Group", "Role", "Term", "Leader", "Commit", "Applied", "Voters"},
                                  rows)
                   .c_str(),
               stdout);
    return;
  }
  auto reply = client->call("GET", "/v1/raft/groups/" + node::ApiClient::url_encode(o.group));
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") {
    std::printf("%s\n", reply->dump(2).c_str());
    return;
  }
  const json& g = *reply;
  std::printf("group %s: %s in term %s, leader %s\n", str(g, "id").c_str(), str(g, "role").c_str(),
              str(g, "term").c_str(), str(g, "leader").empty() ? "(none)" : str(g, "leader").c_str());
  std::printf("commit %s, applied %s, last index %s, snapshot at %s (term %s)\n",
              str(g, "commit").c_str(), str(g, "applied").c_str(), str(g, "last_index").c_str(),
              str(g.value("snapshot", json::object()), "index").c_str(),
              str(g.value("snapshot", json::object()), "term").c_str());
  std::vector<node::TableRow> rows;
  for (const auto& m : g.value("members", json::array())) {
    rows.push_back({str(m, "node"), str(m, "role"), str(m, "match"), str(m, "lag"), str(m, "state")});
  }
  std::fputs(node::render_table({"Member", "Role", "Match", "Lag", "State"}, rows).c_str(), stdout);
}

void run_transfer(Cli& cli, const std::string& group, const std::string& node) {
  auto client = make_client(cli);
  if (!client) return;
  json body = {{"node", node}};
  auto reply = client->call("POST", "/v1/raft/groups/" + node::ApiClient::url_encode(group) +
                                        "/transfer", {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  std::printf("transferring leadership of group %s to %s\n", group.c_str(), node.c_str());
}

}  // namespace

void add_raft_commands(CLI::App& app, Cli& cli) {
  auto* raft = app.add_subcommand("raft", "Inspect and steer this agent's Raft groups");
  raft->require_subcommand(1);
  auto* status = raft->add_subcommand("status", "List the groups here, or one group in detail");
  auto so = std::make_shared<StatusOptions>();
  status->add_option("GROUP", so->group, "Group id");
  status->add_option("--format", so->format, "Output: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  status->callback([&cli, so] { run_status(cli, *so); });

  auto* transfer = raft->add_subcommand("transfer", "Hand a group's leadership to another member");
  auto group = std::make_shared<std::string>();
  auto node = std::make_shared<std::string>();
  transfer->add_option("GROUP", *group, "Group id")->required();
  transfer->add_option("NODE", *node, "Node to lead the group")->required();
  transfer->callback([&cli, group, node] { run_transfer(cli, *group, *node); });
}

}  // namespace shoal::cli
