// `shoal event | query | monitor`: send a user event, run a query and print its acks and
// responses as they arrive, follow the agent's log.
#include <cstdio>
#include <memory>

#include "cli/commands.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

struct EventOptions {
  std::string name;
  std::string payload;
  bool coalesce = true;
};

void run_event(Cli& cli, const EventOptions& o) {
  auto client = make_client(cli);
  if (!client) return;
  auto reply = client->send("POST", "/v1/event/" + node::ApiClient::url_encode(o.name) +
                                        (o.coalesce ? "" : "?coalesce=false"),
                            o.payload, "application/octet-stream");
  if (!reply.ok()) return fail(cli, reply.status());
  if (reply->status != 200) {
    auto body = json::parse(reply->body, nullptr, false);
    const std::string msg = body.is_object() && body.contains("error") && body["error"].is_string()
                                ? body["error"].get<std::string>()
                                : "HTTP " + std::to_string(reply->status);
    return fail(cli, Status::invalid_argument(msg));
  }
  std::printf("Event '%s' dispatched! Coalescing enabled: %s\n", o.name.c_str(),
              o.coalesce ? "true" : "false");
}

struct QueryOptions {
  std::string name;
  std::string payload;
  std::vector<std::string> nodes;
  std::vector<std::string> tags;
  std::string timeout;
  bool no_ack = false;
  int relay_factor = 0;
  std::string format = "table";
};

std::string payload_of(const json& line) {
  if (line.contains("payload") && line["payload"].is_string()) return line["payload"];
  if (line.contains("payload_base64") && line["payload_base64"].is_string()) {
    return "base64:" + line["payload_base64"].get<std::string>();
  }
  return "";
}

void run_query(Cli& cli, const QueryOptions& o) {
  if (o.format != "table" && o.format != "json") {
    std::fprintf(stderr, "error: --format must be table or json, not '%s'\n", o.format.c_str());
    cli.exit_code = kExitUsage;
    return;
  }
  auto client = make_client(cli);
  if (!client) return;
  std::string target = "/v1/query/" + node::ApiClient::url_encode(o.name) + "?ack=" +
                       (o.no_ack ? "false" : "true");
  for (const auto& n : o.nodes) target += "&node=" + node::ApiClient::url_encode(n);
  for (const auto& t : o.tags) target += "&tag=" + node::ApiClient::url_encode(t);
  if (!o.timeout.empty()) target += "&timeout=" + node::ApiClient::url_encode(o.timeout);
  if (o.relay_factor != 0) target += "&relay_factor=" + std::to_string(o.relay_factor);

  const bool table = o.format == "table";
  json acks = json::array();
  json responses = json::object();
  std::string pending;
  Status bad;
  bool done = false;
  auto on_line = [&](const std::string& text) {
    json line = json::parse(text, nullptr, false);
    if (line.is_object() && line.contains("error") && line["error"].is_string()) {
      bad = Status::invalid_argument(line["error"].get<std::string>());  // the API refused
      return false;
    }
    if (!line.is_object() || !line.contains("type")) {
      bad = Status::corruption("the agent sent a line that is not a query update: " + text);
      return false;
    }
    const std::string type = line["type"].is_string() ? line["type"].get<std::string>() : "";
    if (type == "start" && table) {
      std::printf("Query '%s' dispatched\n", o.name.c_str());
    } else if (type == "ack") {
      acks.push_back(line.value("from", ""));
      if (table) std::printf("Ack from '%s'\n", line.value("from", "").c_str());
    } else if (type == "response") {
      responses[line.value("from", "")] = payload_of(line);
      if (table) {
        std::printf("Response from '%s': %s\n", line.value("from", "").c_str(),
                    payload_of(line).c_str());
      }
    } else if (type == "done") {
      done = true;
      if (table) {
        std::printf("Total Acks: %zu\nTotal Responses: %zu\n", acks.size(), responses.size());
      }
      return false;
    }
    std::fflush(stdout);
    return true;
  };
  // No answer for longer than the query's own timeout (at most 24 h) means trouble.
  client->set_timeout(std::chrono::hours(24));
  auto reply = client->stream("POST", target, o.payload, "application/octet-stream",
                              [&](std::string_view chunk) {
    pending.append(chunk);
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      const std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && !on_line(line)) return false;
    }
    return true;
  });
  if (!reply.ok()) return fail(cli, reply.status());
  if (!bad.ok()) return fail(cli, bad);
  if (reply->status != 200) {
    return fail(cli, Status::invalid_argument("HTTP " + std::to_string(reply->status)));
  }
  if (!done) return fail(cli, Status::unavailable("the agent closed the query before it ended"));
  if (!table) {
    std::printf("%s\n", json{{"acks", acks}, {"responses", responses}}.dump(2).c_str());
  }
}

void run_monitor(Cli& cli, const std::string& level) {
  auto client = make_client(cli);
  if (!client) return;
  client->set_timeout(std::chrono::hours(24 * 365));
  auto reply = client->stream("GET", "/v1/agent/monitor?log_level=" + node::ApiClient::url_encode(level),
                              "", "", [](std::string_view chunk) {
    std::fwrite(chunk.data(), 1, chunk.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  if (!reply.ok()) return fail(cli, reply.status());
  if (reply->status != 200) {
    return fail(cli, Status::invalid_argument("HTTP " + std::to_string(reply->status)));
  }
}

}  // namespace

void add_event_commands(CLI::App& app, Cli& cli) {
  auto* event = app.add_subcommand("event", "Send a user event to the whole cluster");
  auto eo = std::make_shared<EventOptions>();
  event->add_option("name", eo->name, "Event name")->required();
  event->add_option("payload", eo->payload, "Event payload");
  event->add_option("--coalesce", eo->coalesce,
                    "Let receivers coalesce events of this name (true|false)")
      ->capture_default_str();
  event->callback([&cli, eo] { run_event(cli, *eo); });

  auto* query = app.add_subcommand("query", "Ask the cluster a question and print the answers");
  auto qo = std::make_shared<QueryOptions>();
  query->add_option("name", qo->name, "Query name")->required();
  query->add_option("payload", qo->payload, "Query payload");
  query->add_option("--node", qo->nodes, "Only this node answers; repeatable");
  query->add_option("--tag", qo->tags, "Only nodes whose tag KEY matches REGEX answer, KEY=REGEX; repeatable");
  query->add_option("--timeout", qo->timeout, "How long to wait for answers (e.g. 5s); default scales with the cluster");
  query->add_flag("--no-ack", qo->no_ack, "Do not ask the nodes for acks");
  query->add_option("--relay-factor", qo->relay_factor, "Also relay each answer through this many other nodes (0-5)");
  query->add_option("--format", qo->format, "table or json")->capture_default_str();
  query->callback([&cli, qo] { run_query(cli, *qo); });

  auto* monitor = app.add_subcommand("monitor", "Stream the agent's log");
  auto level = std::make_shared<std::string>("info");
  monitor->add_option("--log-level", *level, "trace, debug, info, warn or error")
      ->capture_default_str();
  monitor->callback([&cli, level] { run_monitor(cli, *level); });
}

}  // namespace shoal::cli
