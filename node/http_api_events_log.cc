// The lifecycle event logs (docs/api.md, "Lifecycle events"): GET /v1/apps/{app}/events,
// GET /v1/apps/*/events (every app's, merged by time) and GET /v1/catalog/events (nodes
// joining, failing, leaving; apps created and destroyed). And GET /metrics.
// (Not to be confused with GET /v1/events, this node's gossip membership events, or with
// node/http_api_events.cc: Serf user events and queries.)
//
// An app's events are read on its group's leader, the catalog's on the catalog's leader
// (forwarded there like every other read), so a follower never answers with an older view
// than the one a client saw before. `wait` turns a read that finds nothing new into a long
// poll: the handler looks again every 200 ms until an event comes, the wait ends or the
// client leaves. `shoal events -f` is a loop of such polls.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <thread>

#include "node/apps/app_service.h"
#include "node/apps/event_log.h"
#include "node/apps/names.h"
#include "node/http_api_owner.h"
#include "node/http_forward.h"
#include "node/http_server.h"
#include "node/http_util.h"
#include "node/metrics.h"

namespace shoal::node {

using nlohmann::json;

namespace {

constexpr size_t kDefaultLimit = 100;
constexpr int kMaxWaitSeconds = 30;
constexpr auto kPollEvery = std::chrono::milliseconds(200);

Result<uint64_t> query_number(const HttpRequest& req, const std::string& key, uint64_t fallback,
                              uint64_t max) {
  auto v = req.query_value(key);
  if (!v) return fallback;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n > max) {
    return Status::invalid_argument("'" + key + "' must be a number from 0 to " +
                                    std::to_string(max));
  }
  return n;
}

struct Query {
  std::optional<uint64_t> since;  // events after this seq; none: the newest `limit`
  size_t limit = kDefaultLimit;
  std::chrono::seconds wait{0};
};

Result<Query> parse_query(const HttpRequest& req) {
  if (Status s = check_query(req, {"since", "limit", "wait"}); !s.ok()) return s;
  Query q;
  if (req.has_query("since")) {
    auto since = query_number(req, "since", 0, UINT64_MAX);
    if (!since.ok()) return since.status();
    q.since = *since;
  }
  auto limit = query_number(req, "limit", kDefaultLimit, apps::kEventLogCapacity);
  if (!limit.ok()) return limit.status();
  auto wait = query_number(req, "wait", 0, kMaxWaitSeconds);
  if (!wait.ok()) return wait.status();
  q.limit = std::max<size_t>(*limit, 1);
  q.wait = std::chrono::seconds(*wait);
  return q;
}

json answer(const apps::EventLog& log, const Query& q) {
  const auto events = q.since ? log.since(*q.since, q.limit) : log.last(q.limit);
  json list = json::array();
  for (const auto& e : events) list.push_back(apps::to_json(e));
  return {{"events", std::move(list)},
          {"last_seq", log.last_seq()},
          {"first_seq", log.events().empty() ? log.last_seq() + 1 : log.events().front().seq}};
}

// Reads with `read` until it has events or the wait is over; `read` returns the answer or
// an error.
void long_poll(const Query& q, const std::shared_ptr<HttpResponder>& res,
               const std::function<Result<json>()>& read) {
  const auto deadline = std::chrono::steady_clock::now() + q.wait;
  while (true) {
    auto a = read();
    if (!a.ok()) return reply_status(*res, a.status());
    const bool done = !(*a)["events"].empty() || !q.since || res->closed() ||
                      std::chrono::steady_clock::now() + kPollEvery > deadline;
    if (done) return reply_json(*res, 200, *a);
    std::this_thread::sleep_for(kPollEvery);
  }
}

void app_events(apps::AppService& apps, const std::string& app, const Query& q,
                const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = apps::validate_app_name(app); !s.ok()) return reply_status(*res, s);
  auto loc = apps.locate(app);
  if (!loc.ok()) return reply_status(*res, loc.status());
  if (!loc->owner.here) return forward_request(req, res, loc->owner.rpc);
  bool first = true;
  long_poll(q, res, [&]() -> Result<json> {
    auto st = apps.app_state(loc->group, /*linearizable=*/first);
    first = false;
    if (!st.ok()) return st.status();
    json a = answer((*st)->events().log(), q);
    a["app"] = app;
    return a;
  });
}

void catalog_events(apps::AppService& apps, const Query& q, const HttpRequest& req,
                    const std::shared_ptr<HttpResponder>& res) {
  if (forward_to_catalog_leader(apps, req, res)) return;
  long_poll(q, res, [&]() -> Result<json> {
    auto cat = apps.catalog();
    if (!cat.ok()) return cat.status();
    return answer((*cat)->events(), q);
  });
}

// app=*: the newest `limit` events of every app, merged by time (no since, no wait: seqs
// are per app).
void all_app_events(apps::AppService& apps, const Query& q,
                    const std::shared_ptr<HttpResponder>& res) {
  if (q.since || q.wait.count() > 0) {
    return reply_status(*res, Status::invalid_argument(
                                  "app=* takes no 'since' or 'wait': follow one app at a time"));
  }
  auto cat = apps.catalog();
  if (!cat.ok()) return reply_status(*res, cat.status());
  std::vector<json> merged;
  json errors = json::object();
  for (const auto& [name, rec] : (*cat)->apps()) {
    auto loc = apps.locate(name);
    if (!loc.ok()) {
      errors[name] = loc.status().message();
      continue;
    }
    json events;
    if (loc->owner.here) {
      auto st = apps.app_state(loc->group, false);
      if (!st.ok()) {
        errors[name] = st.status().message();
        continue;
      }
      events = answer((*st)->events().log(), q)["events"];
    } else {
      auto r = call_node(loc->owner.rpc, "GET",
                         "/v1/apps/" + name + "/events?limit=" + std::to_string(q.limit), nullptr,
                         std::chrono::seconds(5));
      json body = r.ok() && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
      if (!body.is_object()) {
        errors[name] = r.ok() ? "HTTP " + std::to_string(r->status) : r.status().message();
        continue;
      }
      events = body.value("events", json::array());
    }
    for (auto& e : events) merged.push_back(std::move(e));
  }
  std::stable_sort(merged.begin(), merged.end(), [](const json& a, const json& b) {
    return a.value("time_ms", int64_t{0}) < b.value("time_ms", int64_t{0});
  });
  if (merged.size() > q.limit) merged.erase(merged.begin(), merged.end() - q.limit);
  json out = {{"events", merged}};
  if (!errors.empty()) out["errors"] = std::move(errors);
  reply_json(*res, 200, out);
}

}  // namespace

void add_event_log_routes(HttpRouter& router, apps::AppService& apps) {
  router.add("GET", "/v1/apps/{app}/events",
             [&apps](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               auto q = parse_query(req);
               if (!q.ok()) return reply_status(*res, q.status());
               const std::string& app = req.params.at("app");
               if (app == "*") return all_app_events(apps, *q, res);
               app_events(apps, app, *q, req, res);
             });
  router.add("GET", "/v1/catalog/events",
             [&apps](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               auto q = parse_query(req);
               if (!q.ok()) return reply_status(*res, q.status());
               catalog_events(apps, *q, req, res);
             });
}

void add_metrics_routes(HttpRouter& router) {
  router.add("GET", "/metrics", [](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
    if (Status s = check_query(req, {}); !s.ok()) return reply_status(*res, s);
    res->reply(200, metrics::registry().render(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace shoal::node
