// The app leader's side of the route channel (docs/router.md): after each turn's commands,
// and before the assignments that stop anything, the leader pushes the app's routes to
// every live Shoal node and waits (bounded) for their answers, so that an unplaced instance
// has left every router before its supervisor sends it SIGTERM.
#include <spdlog/spdlog.h>

#include "node/apps/app_routes.h"
#include "node/apps/app_service.h"

namespace shoal::node::apps {

namespace {

int64_t wall_ms() { return to_millis(std::chrono::system_clock::now().time_since_epoch()); }

}  // namespace

void AppService::publish_routes(raft::GroupId group, raft::Term term, const AppState& app,
                                const CatalogState* catalog) {
  std::map<std::string, std::string> hosts;
  std::vector<RouteTarget> targets;
  for (const auto& p : peers()) {
    if (!p.alive() || p.http.empty()) continue;
    hosts[p.name] = host_of(p.rpc);
    targets.push_back({p.name, p.rpc});
  }
  router::RoutePush push;
  push.app = app.name();
  push.group = group;
  push.term = term;
  push.backends = route_backends(app, hosts);
  const AppRecord* rec = catalog ? catalog->app(app.name()) : nullptr;
  const auto now = steady_now();
  {
    std::lock_guard lock(routes_mu_);
    RouteMemo& m = routes_[group];
    // Without the catalog this turn, the domains last read stand. A leader that has never
    // read them (new here, catalog unreachable) would push "no domains" and unroute them
    // everywhere: it waits for the catalog instead, unless the push only takes backends
    // away (a stop, a teardown), which must reach the routers before the stop does.
    if (rec) {
      m.domains_known = true;
    } else if (!m.domains_known && !push.backends.empty()) {
      spdlog::debug("routes-push-deferred app={} reason=\"custom domains not read yet\"",
                    app.name());
      return;
    }
    push.domains = rec ? rec->domains : m.domains;
    const bool changed =
        m.term != term || m.backends != push.backends || m.domains != push.domains;
    if (!changed && now - m.sent_at < opts_.route_refresh) return;
    if (changed) {
      // Versions grow within a term; a new term starts from the wall clock, so they read as
      // times in logs and stay above what an earlier leader of the same term could not have sent.
      m.version = m.term == term ? m.version + 1 : std::max<uint64_t>(m.version + 1, wall_ms());
      m.term = term;
      m.backends = push.backends;
      m.domains = push.domains;
      spdlog::info("routes-changed app={} version={} backends={} domains={}", app.name(),
                   m.version, push.backends.size(), push.domains.size());
    }
    m.sent_at = now;
    push.version = m.version;
  }
  for (const auto& a : send_routes(push, targets, opts_.route_timeout)) {
    if (a.status.ok() && a.body.contains("requests") && a.body["requests"].is_number_unsigned()) {
      note_requests(group, a.node, a.body["requests"].get<uint64_t>());
    }
    if (a.fenced) {
      spdlog::warn("routes-fenced app={} node={} term={} reason=\"{}\"", app.name(), a.node,
                   term, a.status.message());
    } else if (!a.status.ok()) {
      spdlog::debug("routes-push-failed app={} node={} reason=\"{}\"", app.name(), a.node,
                    a.status.message());
    }
  }
}

void AppService::feed_route_store() {
  if (opts_.on_peers) opts_.on_peers(peers());
  if (!opts_.on_catalog) return;
  const auto now = steady_now();
  if (now - catalog_fed_at_ < std::chrono::seconds(5)) return;
  catalog_fed_at_ = now;
  if (auto cat = catalog(); cat.ok()) opts_.on_catalog(**cat);
}

}  // namespace shoal::node::apps
