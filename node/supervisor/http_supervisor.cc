#include "node/supervisor/http_supervisor.h"

#include <charconv>
#include <chrono>
#include <thread>

#include "node/logging.h"
#include "node/supervisor/instance_logs.h"
#include "node/supervisor/usage_report.h"

namespace shoal::node::supervisor {
namespace {

constexpr size_t kDefaultLines = 100;
constexpr size_t kMaxLines = 10000;
constexpr auto kFollowPoll = std::chrono::milliseconds(200);
constexpr size_t kMaxGrepBytes = 1024;

int status_for(const Status& s) {
  switch (s.code()) {
    case Status::Code::invalid_argument: return 400;
    case Status::Code::failed_precondition: return 409;
    case Status::Code::unavailable:
    case Status::Code::timeout: return 503;
    case Status::Code::not_found: return 404;
    default: return 500;
  }
}

void handle_assign(Supervisor& sup, const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
  auto a = parse_assignment(req.body);
  if (!a.ok()) return reply_error(*res, 400, a.status().message());
  auto report = sup.assign(*a);
  if (!report.ok()) return reply_error(*res, status_for(report.status()), report.status().message());
  res->reply(200, to_json(*report).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// since_ms=MS (what the public API's `since` became on the node that fans out) and
// grep=TEXT, as a LogFilter.
Result<LogFilter> log_filter(const HttpRequest& req) {
  LogFilter f;
  if (auto v = req.query_value("since_ms")) {
    const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), f.since_ms);
    if (ec != std::errc() || p != v->data() + v->size() || f.since_ms < 0) {
      return Status::invalid_argument("\"since_ms\" must be milliseconds since the epoch, not \"" +
                                      v->substr(0, 40) + "\"");
    }
  }
  if (auto v = req.query_value("grep")) {
    if (v->size() > kMaxGrepBytes) {
      return Status::invalid_argument("\"grep\" is longer than " + std::to_string(kMaxGrepBytes) +
                                      " bytes");
    }
    f.text = *v;
  }
  return f;
}

void handle_logs(Supervisor& sup, const std::filesystem::path& agent_log_dir,
                 const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
  // system=1: the agent's own log (node/logging.h) instead of an app's instances'.
  const bool system = req.query_value("system").value_or("") == "1";
  const std::string app = req.query_value("app").value_or("");
  if (!system && app.empty()) {
    return reply_error(*res, 400, "the \"app\" query parameter is required (or system=1)");
  }
  if (!system && !valid_app_name(app)) {
    return reply_error(*res, 400, "app name \"" + app + "\" is not a DNS label");
  }
  const std::string type = req.query_value("type").value_or("");
  const std::string instance = req.query_value("instance").value_or("");
  size_t lines = kDefaultLines;
  if (auto v = req.query_value("lines")) {
    const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), lines);
    if (ec != std::errc() || p != v->data() + v->size()) {
      return reply_error(*res, 400, "\"lines\" must be a non-negative integer, not \"" + *v + "\"");
    }
    lines = std::min(lines, kMaxLines);
  }
  const std::string follow_text = req.query_value("follow").value_or("0");
  if (follow_text != "0" && follow_text != "1" && follow_text != "true" && follow_text != "false") {
    return reply_error(*res, 400, "\"follow\" must be 0 or 1");
  }
  const bool follow = follow_text == "1" || follow_text == "true";
  auto filter = log_filter(req);
  if (!filter.ok()) return reply_error(*res, 400, filter.status().message());

  const std::vector<LogSource> agent_log = {
      {sup.node_name(), std::string(kAgentLogType), agent_log_dir}};
  auto sources_now = [&sup, system, agent_log, app, type, instance] {
    return system ? agent_log : sup.log_sources(app, type, instance);
  };
  const auto render = system ? to_system_ndjson : to_ndjson;
  const auto sources = sources_now();
  // The follower starts before the tail is read: a line written in between may come twice,
  // never not at all.
  auto follower = std::make_shared<LogFollower>(sources);
  res->start_stream(200, "application/x-ndjson");
  for (const auto& l : tail_logs(sources, lines, system ? kAgentLogKeep : sup.log_keep(), *filter)) {
    if (!res->write(render(l))) return;
  }
  if (!follow) {
    res->end();
    return;
  }
  Status started = sup.run_background(
      [res, follower, sources_now, render, f = *filter](const std::atomic<bool>& stopping) {
        while (!stopping.load() && !res->closed()) {
          std::this_thread::sleep_for(kFollowPoll);
          follower->update_sources(sources_now());
          for (const auto& l : follower->poll()) {
            if (!f.matches(l)) continue;
            if (!res->write(render(l))) return;
          }
        }
        res->end();
      });
  if (!started.ok()) {
    res->write(nlohmann::json{{"error", started.message()}}.dump() + "\n");
    res->end();
  }
}

void handle_usage(Supervisor& sup, const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
  const auto app = req.query_value("app");
  if (app && !valid_app_name(*app)) {
    return reply_error(*res, 400, "app name \"" + *app + "\" is not a DNS label");
  }
  auto q = parse_usage_query(app, req.query_value("window"), wall_now_ms());
  if (!q.ok()) return reply_error(*res, 400, q.status().message());
  auto report = sup.usage_report(*q);
  if (!report.ok()) return reply_error(*res, status_for(report.status()), report.status().message());
  res->reply(200, to_json(*report).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

void add_supervisor_routes(HttpRouter& router, Supervisor& supervisor,
                           std::filesystem::path agent_log_dir) {
  router.add("POST", "/v1/internal/assign",
             [&supervisor](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               handle_assign(supervisor, req, std::move(res));
             });
  router.add("GET", "/v1/internal/usage",
             [&supervisor](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               handle_usage(supervisor, req, std::move(res));
             });
  router.add("GET", "/v1/internal/logs",
             [&supervisor, agent_log_dir](const HttpRequest& req,
                                          std::shared_ptr<HttpResponder> res) {
               handle_logs(supervisor, agent_log_dir, req, std::move(res));
             });
}

}  // namespace shoal::node::supervisor
