// The app leader's turn, as AppService::lead_app (node/apps/app_leader.cc) takes it, over
// the simulated group; and the deployer, a client that adds releases and remembers which
// were acknowledged.
#include <fmt/format.h>

#include <algorithm>

#include "node/apps/command_result.h"
#include "node/apps/instance_spec.h"
#include "node/apps/manifest.h"
#include "simulations/apps/apps_cluster.h"

namespace shoal::sim {

using node::apps::Instance;
using node::apps::InstanceReport;
using node::apps::NodeInfo;

namespace {

constexpr Duration kDeployRetry = std::chrono::milliseconds(500);
// A deploy whose outcome is unknown this long is proposed again (what a user does after
// the CLI times out): the release may then exist twice, which is allowed.
constexpr Duration kDeployTimeout = std::chrono::seconds(5);

// As app_leader.cc: a report line is worth committing only when it changes the record.
bool report_differs(const Instance& i, const InstanceReport& r) {
  return i.state != r.state || i.pid != r.pid || i.port != r.port || i.restarts != r.restarts ||
         i.reported_generation != r.generation || i.message != r.message ||
         i.health != r.health || i.health_output != r.health_output;
}

}  // namespace

bool AppsCluster::failed_in_view(size_t observer, size_t subject) const {
  if (observer == subject) return false;
  const TimePoint since = unreachable_since_[observer][subject];
  return since != kTimeNever && now_ - since >= p_.detection;
}

std::optional<raft::LogPosition> AppsCluster::propose(size_t i, Bytes command) {
  raft::Actions a = step(i, raft::Propose{std::move(command)});
  if (!a.status.ok() || !a.proposed) return std::nullopt;
  nodes_[i].leader.outstanding = std::max(nodes_[i].leader.outstanding, a.proposed->index);
  return a.proposed;
}

void AppsCluster::turn(size_t i) {
  Node& n = nodes_[i];
  LeaderState& L = n.leader;
  ++turns_;
  // The real leader waits for each proposal to commit, then plans again on the state they
  // made. Here a turn proposes and returns; the next plan waits until they have applied.
  const bool waiting = L.outstanding > n.core->applied_index();
  if (n.app.name().empty()) {
    if (!waiting) (void)propose(i, AppState::set_app("shop"));
    L.next_turn = now_ + p_.busy_turn;
    return;
  }
  std::vector<NodeInfo> infos;
  for (size_t j = 0; j < n_; ++j) {
    NodeInfo info;
    info.name = nodes_[j].id;
    info.alive = !failed_in_view(i, j);
    infos.push_back(std::move(info));
  }
  bool changed = false;
  if (!waiting) {
    const node::apps::Plan p = node::apps::plan(n.app, infos, wall_ms());
    changed = !p.empty();
    for (const auto& pl : p.place) {
      ++places_;
      if (!propose(i, AppState::place(pl.type, pl.node, pl.release, wall_ms()))) break;
    }
    for (const auto& id : p.unplace) {
      ++unplaces_;
      (void)propose(i, AppState::unplace(id));
    }
    for (const auto& id : p.remove) {
      ++removes_;
      (void)propose(i, AppState::remove_instance(id));
    }
    for (const auto& m : p.moves) {  // rebalancing: mark, then place the replacement
      ++places_;
      if (!propose(i, AppState::replace_instance(m.id))) break;
      if (!propose(i, AppState::place(m.type, m.to, m.release, wall_ms()))) break;
    }
    if (!n.up || !n.core || n.core->role() != raft::Role::leader) return;
  }
  if (!changed && !waiting) {
    // mark_lost: nobody can report on an instance whose node is down.
    std::map<std::string, std::vector<InstanceReport>> lines;
    for (const auto& [id, inst] : n.app.instances()) {
      if (inst.desired || inst.state == "stopped" || inst.state == "lost") continue;
      const size_t j = index_of(inst.node);
      if (j != SIZE_MAX && !failed_in_view(i, j)) continue;
      InstanceReport r;
      r.id = id;
      r.state = "lost";
      r.pid = inst.pid;
      r.port = inst.port;
      r.restarts = inst.restarts;
      r.generation = inst.reported_generation;
      r.message = "node " + inst.node + " is down";
      r.since_ms = wall_ms();
      lines[inst.node].push_back(std::move(r));
    }
    for (auto& [node, l] : lines) {
      ++lost_marks_;
      (void)propose(i, AppState::report(node, l));
    }
  }
  if (!n.up || !n.core) return;
  bool busy = changed || waiting;
  for (const auto& [id, inst] : n.app.instances()) {
    const bool settling = inst.state == "assigned" || inst.state == "pending" ||
                          inst.state == "starting" || inst.state == "stopping";
    if (settling || (!inst.desired && inst.state != "stopped")) busy = true;
  }

  // Each node's whole assignment; a node that had some and has none left is told so until
  // it answers (the real leader: once, or again after a failed push).
  std::map<std::string, std::vector<const Instance*>> by_node;
  for (const auto& [id, inst] : n.app.instances()) {
    if (inst.desired) by_node[inst.node].push_back(&inst);
  }
  std::set<std::string> targets = L.pushed;
  for (const auto& [node, _] : by_node) targets.insert(node);
  for (const auto& [id, inst] : n.app.instances()) targets.insert(inst.node);
  std::set<std::string> told;
  for (const auto& node : targets) {
    const size_t j = index_of(node);
    if (j == SIZE_MAX || failed_in_view(i, j)) continue;  // dead: the scheduler moves its instances
    ++pushes_;
    AssignMsg m{assignment_for(i, node, by_node[node])};
    const size_t bytes = 200 + 300 * m.assignment.instances.size();
    told.insert(node);
    send(i, j, std::move(m), bytes);
  }
  L.pushed = std::move(told);
  L.next_turn = now_ + (busy ? p_.busy_turn : p_.turn);
}

node::supervisor::Assignment AppsCluster::assignment_for(size_t i, const std::string& node,
                                                         const std::vector<const Instance*>& list) {
  const AppState& app = nodes_[i].app;
  node::supervisor::Assignment a;
  a.app = app.name();
  a.group = node::supervisor::kAppGroupBase + 1;
  a.term = nodes_[i].core->term();
  a.leader = nodes_[i].id;
  for (const Instance* inst : list) {
    if (auto spec = node::apps::instance_spec(app, *inst)) a.instances.push_back(std::move(*spec));
  }
  (void)node;
  return a;
}

void AppsCluster::on_report(size_t i, size_t from, const ReportMsg& r) {
  Node& n = nodes_[i];
  if (!n.core || n.core->role() != raft::Role::leader || n.core->term() != r.term) return;
  if (r.fenced) return;  // the real leader ends its turn; the next one finds it has lost the group
  const std::string& node = nodes_[from].id;
  if (r.listed == 0) n.leader.pushed.erase(node);
  std::vector<InstanceReport> lines;
  std::set<std::string> listed;
  for (const auto& line : r.lines) {
    listed.insert(line.id);
    const Instance* inst = n.app.instance(line.id);
    if (inst && inst->node == node && report_differs(*inst, line)) lines.push_back(line);
  }
  for (const auto& [id, inst] : n.app.instances()) {
    if (inst.node != node || inst.desired || listed.count(id) || inst.state == "stopped") continue;
    InstanceReport gone;
    gone.id = id;
    gone.state = "stopped";
    gone.generation = inst.generation;
    gone.since_ms = wall_ms();
    lines.push_back(std::move(gone));
  }
  if (lines.empty()) return;
  ++reports_;
  (void)step(i, raft::Propose{AppState::report(node, lines)});
}

void AppsCluster::deploy(size_t k, uint32_t token) {
  if (acked_[k] || token != deploy_attempts_[k]) return;
  ++deploy_attempts_[k];
  Ev again;
  again.kind = Kind::deploy;
  again.id = k;
  again.gen = uint32_t(deploy_attempts_[k]);
  const auto l = leader();
  if (!l) {
    again.at = now_ + kDeployRetry;
    return push(std::move(again));
  }
  node::apps::Manifest m;
  m.processes = {{"web", "./web"}, {"worker", "./worker"}};
  m.formation = {{"web", int(p_.web)}, {"worker", int(p_.worker)}};
  const std::string digest = fmt::format("{:064x}", k + 1);
  raft::Actions a = step(*l, raft::Propose{AppState::add_release(digest, "", node::apps::to_json(m),
                                                                 "deploy", wall_ms())});
  if (a.status.ok() && a.proposed && nodes_[*l].up) {
    nodes_[*l].deploys[a.proposed->index] = Deploy{k, a.proposed->term};
  }
  again.at = now_ + (a.proposed ? kDeployTimeout : kDeployRetry);
  push(std::move(again));
}

void AppsCluster::after_apply(size_t i, const raft::Entry& e, const Bytes& result) {
  Node& n = nodes_[i];
  if (n.app.current_version() < n.last_version) {
    return fail("release numbers never go back",
                fmt::format("{}: current release went from v{} to v{} at index {}", n.id,
                            n.last_version, n.app.current_version(), e.index));
  }
  n.last_version = n.app.current_version();
  auto it = n.deploys.find(e.index);
  if (it == n.deploys.end()) return;
  const Deploy d = it->second;
  n.deploys.erase(it);
  if (d.term != e.term) return;  // overwritten: the deployer's timeout proposes it again
  const node::apps::CommandResult r = node::apps::decode_result(result);
  if (!r.ok()) return fail("deploy", fmt::format("deploy {} refused: {}", d.k + 1, r.status.to_string()));
  if (acked_[d.k]) return;
  acked_[d.k] = r.body.value("release", uint64_t{0});
  settle_from_ = now_;  // a rollout begins: the formation check measures from here
  judged_ = false;
}

}  // namespace shoal::sim
