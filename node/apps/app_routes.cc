// node/apps/app_routes.cc
#include "node/apps/app_routes.h"

#include <thread>

#include "node/http_forward.h"

namespace shoal::node::apps {

using nlohmann::json;

namespace {

// At most this many pushes in flight from one fan-out: a large cluster is told in waves.
constexpr size_t kMaxParallelPushes = 32;

}  // namespace

std::string host_of(const std::string& addr) {
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos) return "";
  std::string host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

std::vector<router::Backend> route_backends(const AppState& app,
                                            const std::map<std::string, std::string>& node_hosts) {
  std::vector<router::Backend> out;
  if (app.stopped()) return out;
  for (const auto& [id, inst] : app.instances()) {
    if (inst.type != kWebType || !inst.desired || !is_up(inst)) continue;
    if (inst.port <= 0 || inst.port > 65535) continue;
    auto host = node_hosts.find(inst.node);
    if (host == node_hosts.end() || host->second.empty()) continue;
    router::Backend b;
    b.instance = id;
    b.node = inst.node;
    b.host = host->second;
    b.port = static_cast<uint16_t>(inst.port);
    b.release = inst.release;
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<RouteAnswer> send_routes(const router::RoutePush& push,
                                     const std::vector<RouteTarget>& targets, Duration timeout) {
  const json body = router::to_json(push);
  std::vector<RouteAnswer> answers(targets.size());
  for (size_t start = 0; start < targets.size(); start += kMaxParallelPushes) {
    const size_t end = std::min(targets.size(), start + kMaxParallelPushes);
    std::vector<std::thread> calls;
    for (size_t i = start; i < end; ++i) {
      calls.emplace_back([&, i] {
        RouteAnswer& a = answers[i];
        a.node = targets[i].node;
        auto res = call_node(targets[i].rpc, "POST", "/v1/internal/routes", &body, timeout);
        if (!res.ok()) {
          a.status = res.status();
          return;
        }
        if (res->status == 409) {
          a.fenced = true;
          a.status = Status::failed_precondition("node " + a.node + " has seen newer routes: " +
                                                 res->body);
          return;
        }
        if (res->status != 200) {
          a.status = Status::unavailable("node " + a.node + " refused the routes: HTTP " +
                                         std::to_string(res->status) + " " + res->body);
          return;
        }
        a.body = json::parse(res->body, nullptr, false);
        if (a.body.is_discarded()) a.body = json::object();
      });
    }
    for (auto& t : calls) t.join();
  }
  return answers;
}

}  // namespace shoal::node::apps
