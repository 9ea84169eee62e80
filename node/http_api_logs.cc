// The logs routes (docs/reporting.md, "Logs"): an app's lines merged from every node that
// runs it (GET /v1/apps/{app}/logs), and the agents' own (GET /v1/agent/logs). The node
// asked fans out to the nodes' GET /v1/internal/logs (supervisor/http_supervisor.h), merges
// by time, and with follow=1 relays each node's new lines as they come.
#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "node/api_client.h"
#include "node/apps/app_service.h"
#include "node/apps/app_views.h"
#include "node/apps/names.h"
#include "node/duration_text.h"
#include "node/http_client.h"
#include "node/secure/node_keys.h"
#include "node/http_forward.h"
#include "node/http_util.h"

namespace shoal::node {

using nlohmann::json;
using apps::AppService;

namespace {

int64_t wall_ms() { return to_millis(std::chrono::system_clock::now().time_since_epoch()); }

// ---- logs: merged from every node that runs the app ----

// The --rpc addresses of the nodes that run (or ran) the app's instances, from the leader's
// table.
Result<std::vector<std::string>> app_node_addrs(AppService& apps, const std::string& app) {
  auto loc = apps.locate(app);
  if (!loc.ok()) return loc.status();
  json ps;
  if (loc->owner.here) {
    auto st = apps.app_state(loc->group, false);
    if (!st.ok()) return st.status();
    ps = apps::ps_json(**st);
  } else {
    auto r = call_node(loc->owner.rpc, "GET", "/v1/apps/" + app + "/ps", nullptr, std::chrono::seconds(5));
    if (!r.ok()) return r.status();
    ps = json::parse(r->body, nullptr, false);
    if (r->status != 200 || !ps.is_object()) {
      return Status::unavailable("the app's leader answered HTTP " + std::to_string(r->status));
    }
  }
  std::set<std::string> nodes;
  for (const auto& i : ps.value("instances", json::array())) nodes.insert(i.value("node", ""));
  std::vector<std::string> addrs;
  for (const auto& n : nodes) {
    if (const std::string a = apps.rpc_of(n); !a.empty()) addrs.push_back(a);
  }
  return addrs;
}

// Follows one node's lines of the app until the client leaves. A quiet follow times out
// every few seconds so the reader notices a client that left; it then asks again for the
// lines since the last one it relayed, so none are missed in between.
void follow_node(const std::string& addr, const std::string& query, std::string lines,
                 int64_t since_ms, const std::shared_ptr<HttpResponder>& res,
                 const std::shared_ptr<std::mutex>& mu) {
  const auto colon = addr.rfind(':');
  for (int attempt = 0; attempt < 100000 && !res->closed(); ++attempt) {
    HttpExchange ex;
    ex.target = "/v1/internal/logs?" + query + "&follow=1&lines=" + ApiClient::url_encode(lines);
    if (since_ms > 0) ex.target += "&since_ms=" + std::to_string(since_ms);
    ex.timeout = std::chrono::seconds(5);
    ex.keys = secure::node_keyring();
    std::string partial;
    ex.on_body = [&](std::string_view piece) {
      partial.append(piece);
      const size_t last = partial.rfind('\n');
      if (last == std::string::npos) return !res->closed();
      std::string complete = partial.substr(0, last + 1);
      partial.erase(0, last + 1);
      // The newest line relayed: the next request asks for what came after it.
      const size_t begin = complete.size() > 1 ? complete.rfind('\n', complete.size() - 2)
                                               : std::string::npos;
      const json newest = json::parse(
          complete.substr(begin == std::string::npos ? 0 : begin + 1), nullptr, false);
      if (newest.is_object()) since_ms = std::max(since_ms, newest.value("ts_ms", int64_t{0}) + 1);
      std::lock_guard lock(*mu);
      return res->write(complete);
    };
    auto r = http_request(addr.substr(0, colon), std::stoi(addr.substr(colon + 1)), ex);
    lines = since_ms > 0 ? "10000" : "0";
    if (r.ok() && r->status != 200) break;  // the node refused: nothing to follow there
    if (r.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// Answers a logs request from `nodes()` (their --rpc addresses; looked up again every 2 s
// while following, so lines from a node that joins the set are followed from when the
// follow began): each node's last lines merged by time, then with follow=1 their new ones.
void serve_logs(const HttpRequest& req, const std::shared_ptr<HttpResponder>& res,
                std::string query, const std::function<Result<std::vector<std::string>>()>& nodes) {
  const int64_t started_ms = wall_ms();
  int64_t since_ms = 0;
  if (auto v = req.query_value("since")) {
    auto t = parse_since(*v, started_ms);
    if (!t.ok()) return reply_status(*res, t.status());
    since_ms = std::max<int64_t>(*t, 1);
  }
  if (auto v = req.query_value("grep")) query += "&grep=" + ApiClient::url_encode(*v);
  auto addrs = nodes();
  if (!addrs.ok()) return reply_status(*res, addrs.status());
  const std::string lines_param = req.query_value("lines").value_or("100");
  const bool follow = req.query_value("follow").value_or("") == "1" ||
                      req.query_value("follow").value_or("") == "true";
  if (!follow) {
    std::vector<std::pair<int64_t, std::string>> lines;
    const std::string since_param = since_ms > 0 ? "&since_ms=" + std::to_string(since_ms) : "";
    for (const auto& a : *addrs) {
      auto r = call_node(a, "GET", "/v1/internal/logs?" + query + since_param + "&lines=" + ApiClient::url_encode(lines_param),
                         nullptr, std::chrono::seconds(5));
      if (!r.ok() || r->status != 200) continue;
      size_t start = 0;
      while (start < r->body.size()) {
        size_t nl = r->body.find('\n', start);
        if (nl == std::string::npos) nl = r->body.size();
        std::string line = r->body.substr(start, nl - start);
        start = nl + 1;
        json j = json::parse(line, nullptr, false);
        if (j.is_object()) lines.emplace_back(j.value("ts_ms", int64_t{0}), std::move(line));
      }
    }
    std::stable_sort(lines.begin(), lines.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out;
    for (const auto& [_, l] : lines) out += l + "\n";
    return res->reply(200, std::move(out), "application/x-ndjson");
  }
  res->start_stream(200, "application/x-ndjson");
  auto mu = std::make_shared<std::mutex>();
  std::vector<std::thread> readers;
  std::set<std::string> following;
  for (const auto& a : *addrs) {
    following.insert(a);
    readers.emplace_back(follow_node, a, query, lines_param, since_ms, res, mu);
  }
  constexpr auto kRelook = std::chrono::seconds(2);
  auto next_look = std::chrono::steady_clock::now() + kRelook;
  while (!res->closed()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (std::chrono::steady_clock::now() < next_look) continue;
    next_look = std::chrono::steady_clock::now() + kRelook;
    auto now_addrs = nodes();
    if (!now_addrs.ok()) continue;  // no leader for a moment: keep what we follow
    for (const auto& a : *now_addrs) {
      if (!following.insert(a).second) continue;
      readers.emplace_back(follow_node, a, query, "10000", std::max(since_ms, started_ms), res, mu);
    }
  }
  for (auto& t : readers) t.join();
  res->end();
}

// An app's lines from every node that runs it; a follow picks up an instance placed on
// another node (a move, a failover, a scale-up).
void app_logs(AppService& apps, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = check_query(req, {"type", "instance", "lines", "follow", "since", "grep"});
      !s.ok()) {
    return reply_status(*res, s);
  }
  const std::string& app = req.params.at("app");
  if (Status s = apps::validate_app_name(app); !s.ok()) return reply_status(*res, s);
  std::string query = "app=" + app;
  for (const char* key : {"type", "instance"}) {
    if (auto v = req.query_value(key)) query += std::string("&") + key + "=" + ApiClient::url_encode(*v);
  }
  serve_logs(req, res, query, [&apps, app] { return app_node_addrs(apps, app); });
}

// The agents' own logs (node/logging.h): every live Shoal node's, or one node's.
void system_logs(AppService& apps, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = check_query(req, {"node", "lines", "follow", "since", "grep"}); !s.ok()) {
    return reply_status(*res, s);
  }
  const std::optional<std::string> node = req.query_value("node");
  auto nodes = [&apps, node]() -> Result<std::vector<std::string>> {
    std::vector<std::string> addrs;
    for (const auto& p : apps.peers()) {
      if (!p.alive() || p.rpc.empty() || (node && p.name != *node)) continue;
      addrs.push_back(p.rpc);
    }
    if (node && addrs.empty()) {
      return Status::not_found("no live Shoal node named '" + node->substr(0, 128) + "'");
    }
    return addrs;
  };
  serve_logs(req, res, "system=1", nodes);
}

}  // namespace

void add_log_routes(HttpRouter& router, AppService& apps) {
  router.add("GET", "/v1/apps/{app}/logs",
             [&apps](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               app_logs(apps, req, res);
             });
  router.add("GET", "/v1/agent/logs",
             [&apps](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               system_logs(apps, req, res);
             });
}

}  // namespace shoal::node
