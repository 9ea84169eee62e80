// What the leaders add to the event logs beyond what the state machines derive by
// themselves. The app leader: leader changes and node failures as it sees them (app_events.h),
// and the app's new events, counted in /metrics by the node that leads the app when they
// happen (summing over nodes counts each event once). The catalog leader: nodes joining,
// failing and leaving as gossip reports them (catalog_events.h).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "node/apps/app_service.h"
#include "node/apps/group_ids.h"
#include "node/metrics.h"

namespace shoal::node::apps {

namespace {

int64_t wall_ms() { return to_millis(std::chrono::system_clock::now().time_since_epoch()); }

struct EventMetrics {
  metrics::Family<metrics::Counter>& events;
  metrics::Counter& episodes;
  metrics::Counter& incomplete;
  metrics::Histogram& placed;
  metrics::Histogram& recovered;
};

EventMetrics& event_metrics() {
  auto& r = metrics::registry();
  static EventMetrics m{
      r.counter_family("shoal_events_total",
                       "Lifecycle events appended to the logs of the apps this node leads.",
                       {"kind"}),
      r.counter("shoal_failover_episodes_total",
                "Node failures that hit an app led here, recovered (one per app and node)."),
      r.counter("shoal_failover_incomplete_total",
                "Failover episodes given up before the app was back at full strength."),
      r.histogram("shoal_failover_placement_seconds",
                  "From a node's failure seen by the app leader to its replacements placed.",
                  metrics::duration_buckets()),
      r.histogram("shoal_failover_recovery_seconds",
                  "From a node's failure seen by the app leader to its replacements up.",
                  metrics::duration_buckets()),
  };
  return m;
}

void count(const Event& e) {
  EventMetrics& m = event_metrics();
  m.events.labels({e.kind}).inc();
  if (e.kind == "failover_recovered") {
    m.episodes.inc();
    m.placed.observe(static_cast<double>(e.data.value("placed_after_ms", int64_t{0})) / 1000);
    m.recovered.observe(static_cast<double>(e.data.value("recovered_after_ms", int64_t{0})) /
                        1000);
  } else if (e.kind == "failover_incomplete") {
    m.incomplete.inc();
  }
}

}  // namespace

void AppService::note_app_events(raft::GroupId group, raft::Term term, const AppState& app,
                                 const std::vector<NodeInfo>& nodes) {
  const EventLog& log = app.events().log();
  if (noted_term_[group] != term) {
    // A new leadership: count only what happens from now on, and say who leads.
    noted_term_[group] = term;
    events_counted_[group] = log.last_seq();
    auto r = propose(group, app_leader_changed(opts_.self, term, wall_ms()));
    if (!r.ok() || !r->ok()) noted_term_.erase(group);  // try again next turn
  }
  for (const Event& e : log.since(events_counted_[group], kEventLogCapacity)) count(e);
  events_counted_[group] = log.last_seq();

  // Nodes that are down (or gone) while they still run desired instances of the app.
  std::map<std::string, const char*> down;  // node -> how
  for (const auto& [id, inst] : app.instances()) {
    if (!inst.desired || inst.state == "stopped") continue;
    auto n = std::find_if(nodes.begin(), nodes.end(),
                          [&](const NodeInfo& x) { return x.name == inst.node; });
    if (n == nodes.end()) {
      down[inst.node] = "gone";
    } else if (!n->alive) {
      down[inst.node] = n->member ? "failed" : "left";
    }
  }
  for (const auto& [node, how] : down) {
    if (app.events().episodes().contains(node)) continue;
    auto r = propose(group, app_node_failed(node, wall_ms(), how));
    spdlog::info("failover-detected app={} node={} result=\"{}\"", app.name(), node,
                 r.ok() ? r->status.to_string() : r.status().to_string());
  }
}

void AppService::note_catalog_events(raft::Term term, const CatalogState& state) {
  if (noted_term_[kCatalogGroup] != term) {
    noted_term_[kCatalogGroup] = term;
    auto r = propose(kCatalogGroup, catalog_leader_changed(opts_.self, term, wall_ms()));
    if (!r.ok() || !r->ok()) noted_term_.erase(kCatalogGroup);
  }
  const auto& recorded = state.catalog_events().node_status();
  for (const auto& p : peers()) {
    const char* status = nullptr;
    switch (p.status) {
      case gossip::MemberStatus::alive:
      case gossip::MemberStatus::leaving: status = "alive"; break;
      case gossip::MemberStatus::failed: status = "failed"; break;
      case gossip::MemberStatus::left: status = "left"; break;
      default: continue;
    }
    auto it = recorded.find(p.name);
    if (it != recorded.end() && it->second == status) continue;
    if (it == recorded.end() && std::string_view(status) == "left") continue;  // never seen
    auto r = propose(kCatalogGroup, catalog_node_status(p.name, status, wall_ms()));
    spdlog::info("node-event-recorded node={} status={} result=\"{}\"", p.name, status,
                 r.ok() ? r->status.to_string() : r.status().to_string());
  }
}

}  // namespace shoal::node::apps
