// `shoal node drain NAME [--undo]`: mark a node so that app leaders place nothing new on it
// (issue 7, placement), or clear the mark.
#include <cstdio>
#include <memory>

#include "cli/apps_render.h"
#include "cli/commands.h"

namespace shoal::cli {
namespace {

struct DrainOptions {
  std::string node;
  bool undo = false;
  std::string format = "text";
};

void run_drain(Cli& cli, const DrainOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  nlohmann::json body = {{"drain", !o.undo}};
  auto reply = client->call("POST", "/v1/nodes/" + node::ApiClient::url_encode(o.node) + "/drain",
                            {}, &body);
  if (!reply.ok()) return fail(cli, reply.status());
  if (o.format == "json") return print_json(*reply);
  const bool draining = reply->is_object() && reply->value("draining", !o.undo) == true;
  std::printf(draining ? "Node %s is draining: no new instances are placed on it\n"
                       : "Node %s is no longer draining\n",
              o.node.c_str());
}

}  // namespace

void add_node_commands(CLI::App& app, Cli& cli) {
  auto* node = app.add_subcommand("node", "Steer one node of the cluster");
  node->require_subcommand(1);
  auto* drain = node->add_subcommand("drain", "Place no new instances on a node (--undo: again)");
  auto o = std::make_shared<DrainOptions>();
  drain->add_option("NAME", o->node, "Node name")->required();
  drain->add_flag("--undo", o->undo, "Clear the drain mark");
  add_format_option(*drain, o->format);
  drain->callback([&cli, o] { run_drain(cli, *o); });
}

}  // namespace shoal::cli
