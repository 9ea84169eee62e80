#include "node/node_metrics.h"

#include <spdlog/spdlog.h>

#include "base/version.h"
#include "node/app_metrics.h"
#include "node/apps/group_ids.h"
#include "node/member_filter.h"
#include "node/supervisor/supervisor.h"

namespace shoal::node {
namespace {

using metrics::CollectedFamily;
using Type = CollectedFamily::Type;

CollectedFamily counter(std::string name, std::string help, double v) {
  CollectedFamily f(std::move(name), std::move(help), Type::counter);
  f.add({}, v);
  return f;
}

CollectedFamily gauge(std::string name, std::string help, double v) {
  CollectedFamily f(std::move(name), std::move(help), Type::gauge);
  f.add({}, v);
  return f;
}

double d(uint64_t v) { return static_cast<double>(v); }

std::string group_kind(raft::GroupId id) {
  if (apps::is_catalog_group(id)) return "catalog";
  if (apps::is_app_group(id)) return "app";
  return "kv";  // the test and bench groups of /v1/raft
}

}  // namespace

std::vector<CollectedFamily> gossip_families(const SelfInfo& self,
                                             const std::vector<gossip::Member>& members) {
  std::vector<CollectedFamily> out;
  CollectedFamily info("shoal_node_info", "This node: its name and Shoal's version (always 1).",
                       Type::gauge, {"node", "version"});
  info.add({self.member.name, kVersion}, 1);
  out.push_back(std::move(info));

  // Every status appears, at 0 when nobody has it, so a query never meets a missing series.
  std::map<std::string, double> by_status;
  for (auto s : {gossip::MemberStatus::alive, gossip::MemberStatus::leaving,
                 gossip::MemberStatus::left, gossip::MemberStatus::failed}) {
    by_status[std::string(member_status_name(s))] = 0;
  }
  for (const auto& m : members) by_status[std::string(member_status_name(m.status))] += 1;
  CollectedFamily states("shoal_gossip_members", "Members this node's gossip sees, by status.",
                         Type::gauge, {"status"});
  for (const auto& [status, n] : by_status) states.add({status}, n);
  out.push_back(std::move(states));

  const gossip::SerfStats& st = self.stats;
  const gossip::MemberlistCounters& c = st.memberlist;
  out.push_back(gauge("shoal_gossip_health_score",
                      "Lifeguard's awareness score: 0 is healthy, higher means this node is "
                      "slow to answer and probes others more patiently.",
                      st.health_score));
  out.push_back(counter("shoal_gossip_packets_received_total", "Gossip UDP packets received.",
                        d(c.packets_received)));
  out.push_back(counter("shoal_gossip_packets_sent_total", "Gossip UDP packets sent.",
                        d(c.packets_sent)));
  out.push_back(counter("shoal_gossip_bytes_received_total", "Gossip bytes received (UDP).",
                        d(c.bytes_received)));
  out.push_back(counter("shoal_gossip_bytes_sent_total", "Gossip bytes sent (UDP).",
                        d(c.bytes_sent)));
  out.push_back(counter("shoal_gossip_probes_total", "Failure-detector probes this node sent.",
                        d(c.probes)));
  out.push_back(counter("shoal_gossip_probe_failures_total",
                        "Probes that got no ack, direct or indirect, in time.",
                        d(c.probe_failures)));
  out.push_back(counter("shoal_gossip_suspicions_total",
                        "Times this node started suspecting a member.", d(c.suspicions)));
  out.push_back(counter("shoal_gossip_refutations_total",
                        "Times this node refuted a suspicion of itself.", d(c.refutations)));
  out.push_back(counter("shoal_gossip_push_pulls_total",
                        "Full state exchanges (TCP push-pull) with a member.", d(c.push_pulls)));
  CollectedFamily drops("shoal_gossip_dropped_total",
                        "Gossip messages dropped, by reason (bad checksum, decrypt, ...).",
                        Type::counter, {"reason"});
  for (const auto& [reason, n] : c.drop_reasons) drops.add({reason}, d(n));
  out.push_back(std::move(drops));
  out.push_back(counter("shoal_gossip_user_events_total", "Serf user events delivered here.",
                        d(st.user_events)));
  out.push_back(counter("shoal_gossip_queries_total", "Serf queries seen here.", d(st.queries)));
  out.push_back(gauge("shoal_gossip_event_queue", "User events waiting to be gossiped.",
                      d(st.event_queue)));
  out.push_back(gauge("shoal_gossip_query_queue", "Queries waiting to be gossiped.",
                      d(st.query_queue)));
  return out;
}

std::vector<CollectedFamily> raft_families(const RaftServiceStats& stats,
                                           const std::vector<raft::GroupStatus>& groups) {
  std::vector<CollectedFamily> out;
  const raft::HostCounters& h = stats.host;
  out.push_back(gauge("shoal_raft_groups", "Raft groups this node is a member of.",
                      d(groups.size())));
  out.push_back(counter("shoal_raft_messages_in_total", "Raft messages received, all groups.",
                        d(h.messages_in)));
  out.push_back(counter("shoal_raft_messages_out_total", "Raft messages sent, all groups.",
                        d(h.messages_out)));
  out.push_back(counter("shoal_raft_writes_total",
                        "Batched writes of the Raft log (one per loop turn, all groups).",
                        d(h.writes)));
  out.push_back(counter("shoal_raft_syncs_total", "Raft log writes that were fsynced.",
                        d(h.syncs)));
  out.push_back(counter("shoal_raft_snapshots_taken_total", "Snapshots taken, all groups.",
                        d(h.snapshots_taken)));
  out.push_back(counter("shoal_raft_snapshots_installed_total",
                        "Snapshots installed from a leader, all groups.",
                        d(h.snapshots_installed)));
  CollectedFamily rejected("shoal_raft_rejected_total",
                           "Raft input refused, by reason.", Type::counter, {"reason"});
  rejected.add({"bad frame"}, d(stats.bad_frames));
  rejected.add({"unknown group"}, d(h.rejected_unknown_group));
  rejected.add({"from self"}, d(h.rejected_from_self));
  rejected.add({"stale term"}, d(h.stale_term));
  out.push_back(std::move(rejected));

  const std::vector<std::string> labels = {"group", "kind"};
  CollectedFamily term("shoal_raft_term", "The group's current term here.", Type::gauge, labels);
  CollectedFamily leader("shoal_raft_leader", "1 if this node leads the group.", Type::gauge,
                         labels);
  CollectedFamily commit("shoal_raft_commit_index", "The group's commit index here.",
                         Type::gauge, labels);
  CollectedFamily applied("shoal_raft_applied_index", "The last entry applied here.",
                          Type::gauge, labels);
  CollectedFamily commit_lag("shoal_raft_commit_lag",
                             "Entries in this member's log not yet known to be committed.",
                             Type::gauge, labels);
  CollectedFamily apply_lag("shoal_raft_apply_lag", "Committed entries not yet applied here.",
                            Type::gauge, labels);
  CollectedFamily proposals("shoal_raft_proposals_total",
                            "Writes proposed to the group through this node.", Type::counter,
                            labels);
  CollectedFamily follower_lag("shoal_raft_follower_lag",
                               "On the leader: entries of its log a member does not hold yet.",
                               Type::gauge, {"group", "kind", "peer"});
  for (const raft::GroupStatus& g : groups) {
    const raft::CoreStatus& c = g.core;
    std::vector<std::string> l = {std::to_string(g.group), group_kind(g.group)};
    term.add(l, d(c.term));
    leader.add(l, c.role == raft::Role::leader ? 1 : 0);
    commit.add(l, d(c.commit));
    applied.add(l, d(c.applied));
    commit_lag.add(l, c.last_index > c.commit ? d(c.last_index - c.commit) : 0);
    apply_lag.add(l, c.commit > c.applied ? d(c.commit - c.applied) : 0);
    proposals.add(l, d(g.proposals));
    if (c.role != raft::Role::leader) continue;
    for (const raft::PeerStatus& p : c.peers) {
      if (p.id == c.id) continue;
      follower_lag.add({l[0], l[1], p.id}, c.last_index > p.match ? d(c.last_index - p.match) : 0);
    }
  }
  for (auto* f : {&term, &leader, &commit, &applied, &commit_lag, &apply_lag, &proposals,
                  &follower_lag}) {
    out.push_back(std::move(*f));
  }
  return out;
}

std::vector<CollectedFamily> instance_families(
    const std::map<std::string, std::vector<supervisor::InstanceStatus>>& by_app) {
  const std::vector<std::string> labels = {"app", "instance", "type"};
  CollectedFamily states("shoal_instances", "This node's instances, by app and state.",
                         Type::gauge, {"app", "state"});
  CollectedFamily restarts("shoal_instance_restarts_total",
                           "Times the supervisor restarted the instance here.", Type::counter,
                           labels);
  CollectedFamily cpu("shoal_instance_cpu_cores",
                      "CPU the instance used over the last sample, in cores (1 = one core busy).",
                      Type::gauge, labels);
  CollectedFamily cpu_limit("shoal_instance_cpu_limit_ratio",
                            "CPU used as a share of the instance's CPU limit (of one core "
                            "when it has none).",
                            Type::gauge, labels);
  CollectedFamily memory("shoal_instance_memory_bytes",
                         "Memory charged to the instance's cgroup (page cache included).",
                         Type::gauge, labels);
  CollectedFamily rss("shoal_instance_rss_bytes", "Resident anonymous memory of the instance.",
                      Type::gauge, labels);
  CollectedFamily ooms("shoal_instance_oom_kills_total",
                       "OOM kills in the instance's current run.", Type::counter, labels);
  CollectedFamily throttled("shoal_instance_throttled_periods_total",
                            "CFS periods in which the CPU quota throttled the instance, "
                            "current run.",
                            Type::counter, labels);
  for (const auto& [app, instances] : by_app) {
    std::map<std::string, double> counts;
    for (const auto& in : instances) {
      counts[std::string(supervisor::state_name(in.state))] += 1;
      const std::vector<std::string> l = {app, in.id, in.type};
      restarts.add(l, in.restarts);
      if (!in.usage) continue;
      const supervisor::ResourceUsage& u = *in.usage;
      if (u.cpu_millis >= 0) cpu.add(l, static_cast<double>(u.cpu_millis) / 1000.0);
      if (u.cpu_percent >= 0) cpu_limit.add(l, u.cpu_percent / 100.0);
      if (u.memory_bytes >= 0) memory.add(l, static_cast<double>(u.memory_bytes));
      if (u.rss_bytes >= 0) rss.add(l, static_cast<double>(u.rss_bytes));
      ooms.add(l, static_cast<double>(u.oom_kills));
      if (u.nr_throttled >= 0) throttled.add(l, static_cast<double>(u.nr_throttled));
    }
    for (const auto& [state, n] : counts) states.add({app, state}, n);
  }
  std::vector<CollectedFamily> out;
  for (auto* f : {&states, &restarts, &cpu, &cpu_limit, &memory, &rss, &ooms, &throttled}) {
    out.push_back(std::move(*f));
  }
  return out;
}

NodeMetrics::NodeMetrics(metrics::Registry& registry, AgentControl& agent, RaftService* raft,
                         supervisor::Supervisor* supervisor)
    : registry_(registry), agent_(agent), raft_(raft), supervisor_(supervisor) {
  id_ = registry_.add_collector([this] { return collect(); });
  if (supervisor_) {
    apps_id_ = registry_.add_text_collector([this] {
      // Within a scraper's patience (Prometheus waits 10 s by default), whatever the apps do.
      return render_app_metrics(
          scrape_apps(supervisor_->metrics_targets(), std::chrono::seconds(2)));
    });
  }
}

NodeMetrics::~NodeMetrics() {
  registry_.remove_collector(id_);
  if (apps_id_) registry_.remove_collector(apps_id_);
}

std::vector<CollectedFamily> NodeMetrics::collect() {
  std::vector<CollectedFamily> out;
  auto take = [&out](std::vector<CollectedFamily> fs) {
    for (auto& f : fs) out.push_back(std::move(f));
  };
  auto self = agent_.self();
  auto members = agent_.members();
  if (self.ok() && members.ok()) {
    take(gossip_families(*self, *members));
  } else {
    spdlog::debug("metrics-gossip-skipped reason=\"{}\"",
                  (self.ok() ? members.status() : self.status()).to_string());
  }
  if (raft_) {
    auto stats = raft_->stats();
    auto groups = raft_->list();
    if (stats.ok() && groups.ok()) {
      take(raft_families(*stats, *groups));
    } else {
      spdlog::debug("metrics-raft-skipped reason=\"{}\"",
                    (stats.ok() ? groups.status() : stats.status()).to_string());
    }
  }
  if (supervisor_) {
    std::map<std::string, std::vector<supervisor::InstanceStatus>> by_app;
    for (const auto& app : supervisor_->apps()) by_app[app] = supervisor_->report(app);
    take(instance_families(by_app));
  }
  return out;
}

}  // namespace shoal::node
