// `shoal events [APP] [-f] [-n N] [--since SEQ] [--format json]`: the lifecycle event log
// of an app (deploys, placements, crashes, failovers: GET /v1/apps/APP/events), of every
// app (APP = '*'), or of the cluster without APP (nodes joining, failing and leaving, apps
// created: GET /v1/catalog/events). -f keeps polling for new events until Ctrl-C.
// (`shoal event` without the s sends a Serf user event.)
#include <cstdio>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/human_units.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

constexpr int kWaitSeconds = 25;  // each follow poll's long-poll wait (the API allows 30)

struct EventsOptions {
  std::string app;
  bool follow = false;
  int limit = 100;
  int64_t since = -1;  // -1: the newest `limit`
  std::string format = "text";
};

std::string column(std::string s, size_t width) {
  if (s.empty()) s = "-";
  if (s.size() < width) s.resize(width, ' ');
  return s + " ";
}

void print_header() {
  std::printf("%s%s%s%sMESSAGE\n", column("TIME", 24).c_str(), column("KIND", 20).c_str(),
              column("NODE", 16).c_str(), column("INSTANCE", 14).c_str());
}

void print_event(const json& e, bool with_app) {
  std::string message = e.value("message", "");
  if (with_app && e.contains("app")) message = "[" + e.value("app", "") + "] " + message;
  std::printf("%s%s%s%s%s\n", column(format_utc_ms(e.value("time_ms", int64_t{0})), 24).c_str(),
              column(e.value("kind", ""), 20).c_str(), column(e.value("node", ""), 16).c_str(),
              column(e.value("instance", ""), 14).c_str(), message.c_str());
}

std::string events_path(const EventsOptions& o) {
  if (o.app.empty()) return "/v1/catalog/events";
  return "/v1/apps/" + node::ApiClient::url_encode(o.app) + "/events";
}

void run_events(Cli& cli, const EventsOptions& o) {
  if (o.follow && o.app == "*") {
    return usage_error(cli, "-f follows one app (or the cluster), not '*'");
  }
  auto client = make_client(cli);
  if (!client) return;
  client->set_timeout(std::chrono::seconds(kWaitSeconds + 20));
  node::QueryParams query = {{"limit", std::to_string(o.limit)}};
  if (o.since >= 0) query.push_back({"since", std::to_string(o.since)});
  auto first = client->call("GET", events_path(o), query);
  if (!first.ok()) return fail(cli, first.status());
  const bool text = o.format != "json";
  const bool with_app = o.app == "*";
  if (!o.follow && !text) return print_json(*first);
  if (text) print_header();
  auto show = [&](const json& answer) {
    const json events = answer.value("events", json::array());
    for (const auto& e : events) {
      if (text) {
        print_event(e, with_app);
      } else {
        std::printf("%s\n", e.dump().c_str());  // -f --format json: one event per line
      }
    }
    std::fflush(stdout);
  };
  show(*first);
  if (!o.follow) return;
  // The next seq to ask for: after the last one shown, or after the log's end.
  uint64_t after = first->value("last_seq", uint64_t{0});
  if (const json events = first->value("events", json::array()); !events.empty()) {
    after = events.back().value("seq", after);
  }
  for (int failures = 0;;) {
    auto next = client->call("GET", events_path(o),
                             {{"since", std::to_string(after)},
                              {"limit", "1000"},
                              {"wait", std::to_string(kWaitSeconds)}});
    if (!next.ok()) {
      // The node we ask may restart or the leader move: say so, and keep trying.
      std::fprintf(stderr, "warning: %s (retrying)\n", next.status().message().c_str());
      std::this_thread::sleep_for(std::chrono::seconds(std::min(++failures, 5)));
      continue;
    }
    failures = 0;
    const uint64_t first_seq = next->value("first_seq", uint64_t{0});
    if (first_seq > after + 1) {
      std::fprintf(stderr, "warning: %llu events were dropped from the log before they were read\n",
                   static_cast<unsigned long long>(first_seq - after - 1));
    }
    show(*next);
    const json events = next->value("events", json::array());
    if (!events.empty()) {
      after = events.back().value("seq", after);
    } else if (next->value("last_seq", after) < after) {
      after = next->value("last_seq", after);  // a log that restarted (a recreated app)
    }
  }
}

}  // namespace

void add_events_command(CLI::App& app, Cli& cli) {
  auto* events = app.add_subcommand(
      "events", "Show lifecycle events: an app's (deploys, instances, failovers) or the cluster's");
  auto o = std::make_shared<EventsOptions>();
  events->add_option("APP", o->app, "App name ('*': every app); none: the cluster's events");
  events->add_flag("-f,--follow", o->follow, "Keep printing new events until Ctrl-C");
  events->add_option("-n,--limit", o->limit, "How many events to show (the newest)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  events->add_option("--since", o->since, "Only events after this sequence number")
      ->check(CLI::Range(int64_t{0}, INT64_MAX));
  add_format_option(*events, o->format);
  events->callback([&cli, o] { run_events(cli, *o); });
}

}  // namespace shoal::cli
