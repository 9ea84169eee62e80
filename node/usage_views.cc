#include "node/usage_views.h"

#include <algorithm>

#include "node/api_json.h"
#include "node/apps/cluster_view.h"

namespace shoal::node {

using nlohmann::json;

namespace {

json unreachable(const NodeAnswers& answers) {
  json out = json::array();
  for (const auto& [node, a] : answers) {
    if (!a.ok()) out.push_back({{"node", node}, {"error", a.status().message()}});
  }
  return out;
}

// Sums over instances: only what was sampled counts, so a total is a lower bound while
// instances start.
json totals(const std::vector<json>& instances) {
  int64_t running = 0, restarts = 0, memory = 0;
  double cpu = 0;
  for (const auto& i : instances) {
    if (i.value("state", "") == "running") ++running;
    restarts += i.value("restarts", int64_t{0});
    const json u = i.value("usage", json::object());
    cpu += std::max(0.0, u.value("cpu_millis", 0.0));
    memory += std::max(int64_t{0}, u.value("memory_bytes", int64_t{0}));
  }
  return {{"instances", instances.size()},
          {"running", running},
          {"cpu_millis", cpu},
          {"memory_bytes", memory},
          {"restarts", restarts}};
}

// Every instance of every answer (each already names its node), ordered by app, node, id.
std::vector<json> all_instances(const NodeAnswers& answers, const std::string& app = "") {
  std::vector<json> out;
  for (const auto& [node, a] : answers) {
    if (!a.ok()) continue;
    for (const auto& i : a->value("instances", json::array())) {
      if (!app.empty() && i.value("app", "") != app) continue;
      out.push_back(i);
    }
  }
  std::sort(out.begin(), out.end(), [](const json& x, const json& y) {
    return std::make_tuple(x.value("app", ""), x.value("node", ""), x.value("id", "")) <
           std::make_tuple(y.value("app", ""), y.value("node", ""), y.value("id", ""));
  });
  return out;
}

}  // namespace

json nodes_view(const std::vector<gossip::Member>& members, const NodeAnswers& answers) {
  json nodes = json::array();
  std::vector<gossip::Member> sorted = members;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& m : sorted) {
    json n = member_to_json(m);
    for (const char* drop : {"ip", "port", "protocol", "delegate_protocol"}) n.erase(drop);
    // A Shoal node advertises its API; a stock serf agent doesn't, and has no more to say.
    n["shoal"] = !apps::peer_from_member(m).http.empty();
    auto it = answers.find(m.name);
    if (it == answers.end()) {
      nodes.push_back(std::move(n));
      continue;
    }
    if (!it->second.ok()) {
      n["error"] = it->second.status().message();
      nodes.push_back(std::move(n));
      continue;
    }
    const json& a = *it->second;
    const json usage = a.value("usage", json::object());
    if (!usage.empty()) {
      n["capacity"] = {{"cores", usage.value("cores", 0)},
                       {"memory_bytes", usage.value("memory_total_bytes", int64_t{0})}};
      n["usage"] = usage;
    }
    if (a.contains("history")) n["history"] = a["history"];
    json by_state = json::object();
    size_t total = 0;
    for (const auto& i : a.value("instances", json::array())) {
      const std::string state = i.value("state", "unknown");
      by_state[state] = by_state.value(state, 0) + 1;
      ++total;
    }
    n["instances"] = {{"total", total}, {"by_state", std::move(by_state)}};
    n["roles"] = a.value("roles", json::object());
    nodes.push_back(std::move(n));
  }
  return {{"nodes", std::move(nodes)}};
}

json app_usage_view(const std::string& app, const NodeAnswers& answers) {
  std::vector<json> instances = all_instances(answers, app);
  json t = totals(instances);
  return {{"app", app},
          {"instances", std::move(instances)},
          {"totals", std::move(t)},
          {"unreachable", unreachable(answers)}};
}

json apps_usage_view(const NodeAnswers& answers) {
  std::vector<json> instances = all_instances(answers);
  std::map<std::string, std::vector<json>> by_app;
  for (const auto& i : instances) by_app[i.value("app", "")].push_back(i);
  json apps = json::array();
  for (const auto& [app, list] : by_app) {
    json a = totals(list);
    a["app"] = app;
    apps.push_back(std::move(a));
  }
  return {{"apps", std::move(apps)},
          {"instances", std::move(instances)},
          {"unreachable", unreachable(answers)}};
}

}  // namespace shoal::node
