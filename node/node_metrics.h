// node/node_metrics.h
//
// What GET /metrics says of gossip, Raft and this node's instances (docs/api.md, "Metrics").
// All of it is counted already (SerfStats, RaftServiceStats, the supervisor's reports); a
// collector turns a fresh reading into families at each scrape, so series of a group or an
// instance that is gone vanish with it:
//
//   shoal_node_info{node,version}                    1
//   shoal_gossip_members{status}                     members this node sees, by status
//   shoal_gossip_health_score                        Lifeguard awareness (0 is healthy)
//   shoal_gossip_{packets,bytes}_{received,sent}_total, _probes_total, _probe_failures_total,
//   _suspicions_total, _refutations_total, _push_pulls_total, _dropped_total{reason},
//   _user_events_total, _queries_total, _event_queue, _query_queue
//   shoal_raft_groups, shoal_raft_{messages_in,messages_out,writes,syncs,snapshots_taken,
//   snapshots_installed,rejected}_total
//   shoal_raft_{term,leader,commit_index,applied_index,commit_lag,apply_lag,proposals_total}
//     {group,kind}                                   per group hosted here
//   shoal_raft_follower_lag{group,kind,peer}         leader only: entries a member lacks
//   shoal_instances{app,state}                       this node's instances by state
//   shoal_instance_{restarts_total,cpu_cores,cpu_limit_ratio,memory_bytes,rss_bytes,
//   oom_kills_total,throttled_periods_total}{app,instance,type}
//
// (The fsync histogram, shoal_raft_fsync_seconds, is observed by RaftService as it writes;
// the router's families are router_metrics.h's; the apps' own metrics, scraped at each
// scrape, are app_metrics.h's.)
#pragma once

#include <map>
#include <string>
#include <vector>

#include "gossip/events.h"
#include "node/agent_control.h"
#include "node/metrics.h"
#include "node/raft_service.h"
#include "node/supervisor/assignment.h"

namespace shoal::node {

namespace supervisor {
class Supervisor;
}

std::vector<metrics::CollectedFamily> gossip_families(const SelfInfo& self,
                                                      const std::vector<gossip::Member>& members);
std::vector<metrics::CollectedFamily> raft_families(const RaftServiceStats& stats,
                                                    const std::vector<raft::GroupStatus>& groups);
std::vector<metrics::CollectedFamily> instance_families(
    const std::map<std::string, std::vector<supervisor::InstanceStatus>>& by_app);

// Registers the collector; unregisters it on destruction (the sources must outlive it). A
// source that fails to answer (the agent stopping) leaves its families out of that scrape.
class NodeMetrics {
 public:
  NodeMetrics(metrics::Registry& registry, AgentControl& agent, RaftService* raft,
              supervisor::Supervisor* supervisor);
  ~NodeMetrics();
  NodeMetrics(const NodeMetrics&) = delete;
  NodeMetrics& operator=(const NodeMetrics&) = delete;

  std::vector<metrics::CollectedFamily> collect();

 private:
  metrics::Registry& registry_;
  AgentControl& agent_;
  RaftService* raft_;
  supervisor::Supervisor* supervisor_;
  metrics::Registry::HookId id_ = 0;
  metrics::Registry::HookId apps_id_ = 0;  // the apps' own metrics (app_metrics.h)
};

}  // namespace shoal::node
