// `shoal top`: the cluster's nodes, apps and instances with what they use, refreshed in
// place like top(1); `shoal nodes`: the nodes once. Both read any one node, which asks the
// others (docs/reporting.md).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/top_render.h"
#include "node/duration_text.h"

namespace shoal::cli {
namespace {

struct TopOptions {
  std::string interval = "2s";
  int iterations = 0;  // 0: until interrupted
  bool once = false;
  std::string format = "text";
};

// One snapshot: {"nodes": GET /v1/nodes, "usage": GET /v1/metrics/apps}.
Result<nlohmann::json> snapshot(const node::ApiClient& client) {
  auto nodes = client.call("GET", "/v1/nodes");
  if (!nodes.ok()) return nodes.status();
  auto usage = client.call("GET", "/v1/metrics/apps");
  if (!usage.ok()) return usage.status();
  return nlohmann::json{{"nodes", (*nodes)["nodes"]},
                        {"apps", (*usage)["apps"]},
                        {"instances", (*usage)["instances"]},
                        {"unreachable", (*usage)["unreachable"]}};
}

std::string render(const nlohmann::json& s) {
  return render_nodes_table(s) + "\n" + render_usage_tables(s);
}

void run_top(Cli& cli, const TopOptions& o) {
  auto interval = node::parse_duration(o.interval);
  if (!interval.ok()) return usage_error(cli, "--interval: " + interval.status().message());
  if (*interval < std::chrono::milliseconds(200)) {
    return usage_error(cli, "--interval: at least 200ms, not " + o.interval);
  }
  if (o.iterations < 0) return usage_error(cli, "--iterations: must not be negative");
  auto client = make_client(cli);
  if (!client) return;
  // A snapshot for a program, or the screen is not a terminal: print once.
  const bool once = o.once || o.format == "json" || !::isatty(STDOUT_FILENO);
  for (int i = 0; o.iterations == 0 || i < o.iterations; ++i) {
    auto s = snapshot(*client);
    if (!s.ok()) return fail(cli, s.status());
    if (o.format == "json") return print_json(*s);
    if (once) {
      std::fputs(render(*s).c_str(), stdout);
      return;
    }
    // Home and clear, then the tables: one write, so the screen never shows half of both.
    const std::string screen = "\x1b[H\x1b[2J" + render(*s);
    std::fputs(screen.c_str(), stdout);
    std::fflush(stdout);
    if (o.iterations != 0 && i + 1 == o.iterations) break;
    std::this_thread::sleep_for(*interval);
  }
}

void run_nodes(Cli& cli, const std::string& format) {
  auto client = make_client(cli);
  if (!client) return;
  auto nodes = client->call("GET", "/v1/nodes");
  if (!nodes.ok()) return fail(cli, nodes.status());
  if (format == "json") return print_json(*nodes);
  std::fputs(render_nodes_table(*nodes).c_str(), stdout);
}

}  // namespace

void add_top_commands(CLI::App& app, Cli& cli) {
  auto* top = app.add_subcommand(
      "top", "Live view of the cluster's nodes, apps and instances and what they use");
  auto o = std::make_shared<TopOptions>();
  top->add_option("--interval", o->interval, "Time between refreshes (e.g. 1s, 500ms)")
      ->capture_default_str();
  top->add_option("--iterations", o->iterations, "Refresh this many times, then exit (0: until ^C)")
      ->capture_default_str();
  top->add_flag("--once", o->once, "Print one snapshot and exit (also when not on a terminal)");
  add_format_option(*top, o->format);
  top->callback([&cli, o] { run_top(cli, *o); });

  auto* nodes = app.add_subcommand("nodes", "List the cluster's nodes with their capacity, use and roles");
  auto format = std::make_shared<std::string>("text");
  add_format_option(*nodes, *format);
  nodes->callback([&cli, format] { run_nodes(cli, *format); });
}

}  // namespace shoal::cli
