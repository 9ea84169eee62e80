#include "node/supervisor/http_supervisor.h"

#include <charconv>
#include <chrono>
#include <thread>

#include "node/supervisor/instance_logs.h"
#include "node/supervisor/usage_report.h"

namespace shoal::node::supervisor {
namespace {

constexpr size_t kDefaultLines = 100;
constexpr size_t kMaxLines = 10000;
constexpr auto kFollowPoll = std::chrono::milliseconds(200);

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

void handle_logs(Supervisor& sup, const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
  const std::string app = req.query_value("app").value_or("");
  if (app.empty()) return reply_error(*res, 400, "the \"app\" query parameter is required");
  if (!valid_app_name(app)) return reply_error(*res, 400, "app name \"" + app + "\" is not a DNS label");
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

  const auto sources = sup.log_sources(app, type, instance);
  // The follower starts before the tail is read: a line written in between may come twice,
  // never not at all.
  auto follower = std::make_shared<LogFollower>(sources);
  res->start_stream(200, "application/x-ndjson");
  for (const auto& l : tail_logs(sources, lines, sup.log_keep())) {
    if (!res->write(to_ndjson(l))) return;
  }
  if (!follow) {
    res->end();
    return;
  }
  Status started = sup.run_background(
      [&sup, res, follower, app, type, instance](const std::atomic<bool>& stopping) {
        while (!stopping.load() && !res->closed()) {
          std::this_thread::sleep_for(kFollowPoll);
          follower->update_sources(sup.log_sources(app, type, instance));
          for (const auto& l : follower->poll()) {
            if (!res->write(to_ndjson(l))) return;
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
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  auto q = parse_usage_query(app, req.query_value("window"), now_ms);
  if (!q.ok()) return reply_error(*res, 400, q.status().message());
  auto report = sup.usage_report(*q);
  if (!report.ok()) return reply_error(*res, status_for(report.status()), report.status().message());
  res->reply(200, to_json(*report).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

void add_supervisor_routes(HttpRouter& router, Supervisor& supervisor) {
  router.add("POST", "/v1/internal/assign",
             [&supervisor](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               handle_assign(supervisor, req, std::move(res));
             });
  router.add("GET", "/v1/internal/usage",
             [&supervisor](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               handle_usage(supervisor, req, std::move(res));
             });
  router.add("GET", "/v1/internal/logs",
             [&supervisor](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               handle_logs(supervisor, req, std::move(res));
             });
}

}  // namespace shoal::node::supervisor
