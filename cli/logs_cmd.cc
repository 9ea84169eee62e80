// `shoal logs NAME [-f] [--type T] [--instance I] [-n LINES] [--since S] [--grep TEXT]`: an
// app's log lines, merged by the agent from every node that runs the app; -f follows until
// Ctrl-C, across moves. `shoal logs --system [--node N]`: the agents' own logs instead.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/logs_render.h"
#include "cli/ndjson_lines.h"

namespace shoal::cli {
namespace {

struct LogsOptions {
  std::string app;
  bool system = false;
  std::string node;
  std::string since;
  std::string grep;
  bool follow = false;
  std::string type;
  std::string instance;
  int lines = -1;  // -1: the agent's default
  std::string format = "text";
};

void run_logs(Cli& cli, const LogsOptions& o) {
  if (o.system == !o.app.empty()) {
    return usage_error(cli, o.system ? "--system shows the agents' logs: give no app name"
                                     : "name an app, or --system for the agents' own logs");
  }
  if (!o.system && !o.node.empty()) return usage_error(cli, "--node goes with --system");
  if (o.system && (!o.type.empty() || !o.instance.empty())) {
    return usage_error(cli, "--type and --instance are an app's; --system has --node");
  }
  auto client = make_client(cli);
  if (!client) return;
  std::string target =
      o.system ? "/v1/agent/logs" : "/v1/apps/" + node::ApiClient::url_encode(o.app) + "/logs";
  std::string sep = "?";
  auto add = [&](const char* key, const std::string& value) {
    target += sep + key + "=" + node::ApiClient::url_encode(value);
    sep = "&";
  };
  if (!o.type.empty()) add("type", o.type);
  if (!o.instance.empty()) add("instance", o.instance);
  if (!o.node.empty()) add("node", o.node);
  if (!o.since.empty()) add("since", o.since);
  if (!o.grep.empty()) add("grep", o.grep);
  if (o.lines >= 0) add("lines", std::to_string(o.lines));
  if (o.follow) add("follow", "1");
  // Following waits for lines as long as the user does; a dump only for the fan-out.
  client->set_timeout(o.follow ? std::chrono::hours(24 * 365) : std::chrono::minutes(1));

  NdjsonLines lines;
  std::string raw;  // an error answer's body (its start)
  constexpr size_t kRawMax = 64 * 1024;
  Status bad;
  int http_status = 0;
  auto on_headers = [&](const node::HttpResponse& head) {
    http_status = head.status;
    return true;
  };
  auto reply = client->stream("GET", target, "", "", [&](std::string_view piece) {
    if (http_status != 200) {  // an error answer: its JSON says why
      if (raw.size() < kRawMax) raw.append(piece.substr(0, kRawMax - raw.size()));
      return true;
    }
    return lines.feed(piece, [&](std::string_view line) {
      if (o.format == "json") {
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
      } else if (auto text = render_log_line(line); text.ok()) {
        std::printf("%s\n", text->c_str());
      } else if (text.status().code() == Status::Code::unavailable) {
        // The agent could not reach every node: say so, keep the lines that came.
        std::fprintf(stderr, "warning: %s\n", text.status().message().c_str());
        bad = text.status();
      } else {
        bad = text.status();
        return false;
      }
      std::fflush(stdout);
      return true;
    });
  }, on_headers);
  if (!reply.ok()) return fail(cli, reply.status());
  if (reply->status != 200) return fail(cli, stream_failure(reply->status, raw));
  if (!bad.ok()) return fail(cli, bad);
}

}  // namespace

void add_logs_command(CLI::App& app, Cli& cli) {
  auto* logs = app.add_subcommand(
      "logs", "Show an app's logs from every node that runs it (--system: the agents' own)");
  auto o = std::make_shared<LogsOptions>();
  logs->add_option("NAME", o->app, "App name (none with --system)");
  logs->add_flag("--system", o->system, "The agents' own logs, from every node (or --node)");
  logs->add_option("--node", o->node, "With --system: only this node's");
  logs->add_option("--since", o->since,
                   "Only lines since then: a duration (10m), a UTC time "
                   "(2026-12-07T06:00:00Z) or epoch milliseconds");
  logs->add_option("--grep", o->grep, "Only lines that contain this text (as is, not a regex)");
  logs->add_flag("-f,--follow", o->follow, "Keep printing new lines until Ctrl-C");
  logs->add_option("--type", o->type, "Only this process type (web)");
  logs->add_option("--instance", o->instance, "Only this instance (web.3f9a1c)");
  logs->add_option("-n,--lines", o->lines, "How many recent lines to show first")
      ->check(CLI::Range(0, 1000000));
  add_format_option(*logs, o->format);
  logs->callback([&cli, o] { run_logs(cli, *o); });
}

}  // namespace shoal::cli
