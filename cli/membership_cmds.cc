// `shoal join | leave | force-leave | tags`: change this node's membership or tags.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "node/agent_config.h"

namespace shoal::cli {
namespace {

struct JoinOptions {
  std::vector<std::string> addrs;
  bool replay = false;
};

void run_join(Cli& cli, const JoinOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  // The agent bounds a join by its TCP timeout per address, at most 5 minutes.
  client->set_timeout(std::chrono::minutes(5) + std::chrono::seconds(10));
  nlohmann::json body = {{"addrs", o.addrs}, {"replay", o.replay}};
  auto reply = client->call("POST", "/v1/join", {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  if (auto errors = reply->find("errors"); errors != reply->end() && errors->is_array()) {
    for (const auto& e : *errors) {
      if (e.is_string()) std::fprintf(stderr, "warning: %s\n", e.get<std::string>().c_str());
    }
  }
  const int joined = reply->value("joined", 0);
  std::printf("Successfully joined cluster by contacting %d node%s.\n", joined,
              joined == 1 ? "" : "s");
}

void run_leave(Cli& cli) {
  auto client = make_client(cli);
  if (!client) return;
  client->set_timeout(std::chrono::seconds(60));
  nlohmann::json body = nlohmann::json::object();
  auto reply = client->call("POST", "/v1/leave", {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  std::printf("Graceful leave complete\n");
}

struct ForceLeaveOptions {
  std::string node;
  bool prune = false;
};

void run_force_leave(Cli& cli, const ForceLeaveOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  nlohmann::json body = {{"node", o.node}, {"prune", o.prune}};
  auto reply = client->call("POST", "/v1/force-leave", {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  std::printf("Node %s forced to leave%s\n", o.node.c_str(), o.prune ? " and pruned" : "");
}

struct TagsOptions {
  std::vector<std::string> set;
  std::vector<std::string> remove;
};

void run_tags(Cli& cli, const TagsOptions& o) {
  if (o.set.empty() && o.remove.empty()) {
    std::fprintf(stderr, "error: give at least one --set k=v or --delete k\n");
    cli.exit_code = kExitUsage;
    return;
  }
  nlohmann::json set = nlohmann::json::object();
  for (const auto& t : o.set) {
    auto kv = node::parse_tag(t);
    if (!kv.ok()) {
      std::fprintf(stderr, "error: --set: %s\n", kv.status().message().c_str());
      cli.exit_code = kExitUsage;
      return;
    }
    set[kv->first] = kv->second;
  }
  auto client = make_client(cli);
  if (!client) return;
  nlohmann::json body = {{"set", set}, {"delete", o.remove}};
  auto reply = client->call("PUT", "/v1/agent/tags", {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  std::printf("Successfully updated agent tags\n");
}

}  // namespace

void add_membership_commands(CLI::App& app, Cli& cli) {
  auto* join = app.add_subcommand("join", "Tell the agent to join a cluster through peers");
  auto jo = std::make_shared<JoinOptions>();
  join->add_option("addrs", jo->addrs, "Gossip address of a peer, IP[:PORT]")->required();
  join->add_flag("--replay", jo->replay, "Replay past user events");
  join->callback([&cli, jo] { run_join(cli, *jo); });

  auto* leave = app.add_subcommand("leave", "Gracefully leave the cluster and stop the agent");
  leave->callback([&cli] { run_leave(cli); });

  auto* force = app.add_subcommand("force-leave", "Mark a failed node as left");
  auto fo = std::make_shared<ForceLeaveOptions>();
  force->add_option("node", fo->node, "Name of the failed node")->required();
  force->add_flag("--prune", fo->prune, "Forget the node at once instead of after reaping");
  force->callback([&cli, fo] { run_force_leave(cli, *fo); });

  auto* tags = app.add_subcommand("tags", "Set or delete this node's tags");
  auto to = std::make_shared<TagsOptions>();
  tags->add_option("--set", to->set, "Tag to set, KEY=VALUE; repeatable");
  tags->add_option("--delete", to->remove, "Tag to delete, KEY; repeatable");
  tags->callback([&cli, to] { run_tags(cli, *to); });
}

}  // namespace shoal::cli
