// The resource-use routes (docs/reporting.md). Each node answers for itself on the --rpc
// listener (GET /v1/internal/node; the supervisor's GET /v1/internal/usage), and any node
// answers for the cluster by asking every live Shoal node (16 at a time) and merging
// (usage_views.h):
//   GET /v1/nodes[?window=D]              every member, with its capacity, use and roles
//   GET /v1/metrics/apps[?window=D]       every app's totals and instances
//   GET /v1/metrics/apps/{app}[?window=D] one app's instances, with their history
#include <spdlog/spdlog.h>

#include "node/apps/app_service.h"
#include "node/apps/group_ids.h"
#include "node/apps/names.h"
#include "node/api_client.h"
#include "node/http_forward.h"
#include "node/http_util.h"
#include "node/parallel_map.h"
#include "node/raft_service.h"
#include "node/supervisor/supervisor.h"
#include "node/supervisor/usage_report.h"
#include "node/usage_views.h"

namespace shoal::node {

using nlohmann::json;

namespace {

constexpr auto kFanOutTimeout = std::chrono::seconds(3);
// Calls in flight at once: the whole answer waits for the slowest, so a wide fan-out helps,
// but not a thread per node of a large cluster, every 2 s of an open dashboard.
constexpr size_t kFanOutWorkers = 16;

struct Ctx {
  apps::AppService& apps;
  AgentControl& agent;
  supervisor::Supervisor& supervisor;
  RaftService& raft;
};

// `target` on every live Shoal node (this one too), up to kFanOutWorkers at once; each
// answer by node name.
NodeAnswers fan_out(Ctx& c, const std::string& target) {
  std::vector<std::pair<std::string, std::string>> nodes;  // name, rpc
  for (const auto& p : c.apps.peers()) {
    if (p.alive() && !p.rpc.empty()) nodes.emplace_back(p.name, p.rpc);
  }
  auto answers = parallel_map(nodes, kFanOutWorkers, [&target](const auto& node) {
    auto r = call_node(node.second, "GET", target, nullptr, kFanOutTimeout);
    if (!r.ok()) return Result<json>(r.status());
    json j = json::parse(r->body, nullptr, false);
    if (r->status != 200 || !j.is_object()) {
      const std::string why = j.is_object() ? j.value("error", "") : "";
      return Result<json>(Status::unavailable("answered HTTP " + std::to_string(r->status) +
                                              (why.empty() ? "" : ": " + why)));
    }
    return Result<json>(std::move(j));
  });
  NodeAnswers out;
  for (size_t i = 0; i < nodes.size(); ++i) out.emplace(nodes[i].first, std::move(answers[i]));
  return out;
}

// The Raft roles this node holds: catalog voter or learner (and whether it leads), the apps
// whose groups it leads, and how many app groups it holds a replica of.
json roles(Ctx& c) {
  json r = {{"catalog", nullptr}, {"app_leader", json::array()}, {"app_replicas", 0}};
  auto groups = c.raft.list();
  if (!groups.ok()) {
    r["error"] = groups.status().message();
    return r;
  }
  int replicas = 0;
  for (const auto& g : *groups) {
    const bool leads = g.core.role == raft::Role::leader;
    if (apps::is_catalog_group(g.group)) {
      r["catalog"] = leads ? "leader" : g.core.config.is_learner(g.core.id) ? "learner" : "voter";
    } else if (apps::is_app_group(g.group)) {
      ++replicas;
      if (!leads) continue;
      auto st = c.apps.app_state(g.group, /*linearizable=*/false);
      if (st.ok()) r["app_leader"].push_back((*st)->name());
    }
  }
  r["app_replicas"] = replicas;
  return r;
}

void internal_node(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = check_query(req, {"window"}); !s.ok()) return reply_status(*res, s);
  auto q = supervisor::parse_usage_query(std::nullopt, req.query_value("window"), wall_now_ms());
  if (!q.ok()) return reply_status(*res, q.status());
  q->instance_history = false;
  auto report = c.supervisor.usage_report(*q);
  if (!report.ok()) return reply_status(*res, report.status());
  json j = supervisor::to_json(*report);
  j["roles"] = roles(c);
  reply_json(*res, 200, j);
}

// "?window=D" for the supervisors' GET /v1/internal/usage, checked here first so a bad
// window is one 400, not an error from every node.
Result<std::string> window_query(const HttpRequest& req) {
  auto w = req.query_value("window");
  if (!w) return std::string();
  auto q = supervisor::parse_usage_query(std::nullopt, w, 0);
  if (!q.ok()) return q.status();
  return "window=" + ApiClient::url_encode(*w);
}

void nodes(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = check_query(req, {"window"}); !s.ok()) return reply_status(*res, s);
  auto window = window_query(req);
  if (!window.ok()) return reply_status(*res, window.status());
  auto members = c.agent.members();
  if (!members.ok()) return reply_status(*res, members.status());
  const std::string target = "/v1/internal/node" + (window->empty() ? "" : "?" + *window);
  reply_json(*res, 200, nodes_view(*members, fan_out(c, target)));
}

void apps_usage(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = check_query(req, {"window"}); !s.ok()) return reply_status(*res, s);
  auto window = window_query(req);
  if (!window.ok()) return reply_status(*res, window.status());
  reply_json(*res, 200, apps_usage_view(fan_out(c, "/v1/internal/usage?" + *window)));
}

void app_usage(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = check_query(req, {"window"}); !s.ok()) return reply_status(*res, s);
  const std::string& app = req.params.at("app");
  if (Status s = apps::validate_app_name(app); !s.ok()) return reply_status(*res, s);
  auto window = window_query(req);
  if (!window.ok()) return reply_status(*res, window.status());
  // An app the catalog doesn't know is a 404, not an empty answer.
  if (auto loc = c.apps.locate(app); !loc.ok()) return reply_status(*res, loc.status());
  std::string target = "/v1/internal/usage?app=" + app;
  if (!window->empty()) target += "&" + *window;
  reply_json(*res, 200, app_usage_view(app, fan_out(c, target)));
}

}  // namespace

void add_usage_routes(HttpRouter& router, apps::AppService& apps, AgentControl& agent,
                      supervisor::Supervisor& supervisor, RaftService& raft) {
  auto ctx = std::make_shared<Ctx>(Ctx{apps, agent, supervisor, raft});
  auto route = [ctx](void (*fn)(Ctx&, const HttpRequest&, const std::shared_ptr<HttpResponder>&)) {
    return [ctx, fn](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
      fn(*ctx, req, res);
    };
  };
  router.add("GET", "/v1/internal/node", route(internal_node));
  router.add("GET", "/v1/nodes", route(nodes));
  router.add("GET", "/v1/metrics/apps", route(apps_usage));
  router.add("GET", "/v1/metrics/apps/{app}", route(app_usage));
}

}  // namespace shoal::node
