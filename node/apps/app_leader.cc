// The app leader's turn (AppService::lead_app): the app's scheduler. Level-triggered: each
// turn reads the app's state, commits what scheduler::plan() decides, pushes every node its
// whole assignment and commits what the supervisors answer. A lost push or report is
// repaired by the next turn.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "node/apps/app_service.h"
#include "node/apps/auto_rollback.h"
#include "node/apps/group_ids.h"
#include "node/apps/instance_spec.h"
#include "node/apps/manifest.h"
#include "node/http_forward.h"
#include "node/supervisor/assignment.h"

namespace shoal::node::apps {

using nlohmann::json;

namespace {

int64_t wall_ms() { return to_millis(std::chrono::system_clock::now().time_since_epoch()); }

bool report_differs(const Instance& i, const InstanceReport& r) {
  return i.state != r.state || i.pid != r.pid || i.port != r.port || i.restarts != r.restarts ||
         i.reported_generation != r.generation || i.message != r.message ||
         i.health != r.health || i.health_output != r.health_output;
}

}  // namespace

std::vector<NodeInfo> AppService::node_infos(const CatalogState* catalog) const {
  std::vector<NodeInfo> out;
  for (const auto& p : peers()) {
    if (p.http.empty()) continue;  // a stock serf agent: runs nothing of ours
    NodeInfo n;
    n.name = p.name;
    n.alive = p.status == gossip::MemberStatus::alive || p.status == gossip::MemberStatus::leaving;
    n.member = p.status != gossip::MemberStatus::left && p.status != gossip::MemberStatus::none;
    n.draining = p.status == gossip::MemberStatus::leaving ||
                 (catalog != nullptr && catalog->draining(p.name));
    n.memory_free_mb = p.memory_free_mb;
    out.push_back(std::move(n));
  }
  return out;
}

Result<std::vector<InstanceReport>> AppService::push(const std::string& node, const AppState& app,
                                                     raft::GroupId group, raft::Term term,
                                                     const std::vector<const Instance*>& instances) {
  const std::string addr = rpc_of(node);
  if (addr.empty()) return Status::unavailable("node " + node + " is not reachable");
  supervisor::Assignment a;
  a.app = app.name();
  a.group = group;
  a.term = term;
  a.leader = opts_.self;
  for (const Instance* i : instances) {
    auto spec = instance_spec(app, *i);
    if (!spec) continue;  // pruned; the scheduler replaces it
    supervisor::InstanceSpec& s = *spec;
    // Every other live node may hold the slug: the one the deploy came through does, and
    // so does every node that ran the release.
    for (const auto& p : peers()) {
      if (p.name != node && p.alive() && !p.http.empty()) s.artifact_peers.push_back(p.rpc);
    }
    a.instances.push_back(std::move(s));
  }
  const json body = supervisor::to_json(a);
  auto res = call_node(addr, "POST", "/v1/internal/assign", &body, std::chrono::seconds(3));
  if (!res.ok()) return res.status();
  if (res->status == 409) {
    return Status::failed_precondition("node " + node + " has seen a newer term of group " +
                                       std::to_string(group) + ": " + res->body);
  }
  if (res->status != 200) {
    return Status::unavailable("node " + node + " refused the assignment: HTTP " +
                               std::to_string(res->status) + " " + res->body);
  }
  auto report = supervisor::parse_assign_report(res->body);
  if (!report.ok()) return report.status().with_context("report from " + node);
  note_usage(group, report->instances);
  std::vector<InstanceReport> out;
  for (const auto& r : report->instances) out.push_back(report_line(r));
  return out;
}

bool AppService::lead_app(raft::GroupId group, raft::Term term, const CatalogState* cat) {
  auto app = app_state(group, /*linearizable=*/false);
  if (!app.ok()) return false;
  if ((*app)->name().empty()) {
    // A new group: its name is in the catalog.
    auto name = cat ? cat->app_of_group(group) : std::nullopt;
    if (!name) return true;
    auto r = propose(group, AppState::set_app(*name));
    spdlog::info("app-group-named group={} app={} result=\"{}\"", group, *name,
                 r.ok() ? r->status.to_string() : r.status().to_string());
    return true;
  }
  // A release that failed while the old one still serves is rolled back (auto_rollback.h);
  // the next turn plans on the new release. A refused rollback must not stop the turn.
  if (auto rb = auto_rollback(**app, wall_ms())) {
    auto r = propose(group, AppState::rollback(rb->to, wall_ms(), rb->description(), rb->from));
    if (r.ok() && r->ok()) {
      spdlog::warn("release-rolled-back app={} from={} to={} release={} reason=\"{}\"",
                   (*app)->name(), rb->from, rb->to, r->body.value("release", uint64_t{0}),
                   rb->reason);
      return true;
    }
    spdlog::debug("release-rollback-refused app={} from={} reason=\"{}\"", (*app)->name(),
                  rb->from, r.ok() ? r->status.to_string() : r.status().to_string());
  }
  const auto nodes = node_infos(cat);
  note_app_events(group, term, **app, nodes);

  // The scheduler's decisions, committed. One plan per turn: the next turn plans again on
  // the state these commands made.
  const Plan p = plan(**app, nodes, wall_ms());
  for (const auto& w : p.warnings) {
    spdlog::warn("app-placement-warning app={} reason=\"{}\"", (*app)->name(), w);
  }
  bool changed = false;
  for (const auto& pl : p.place) {
    auto r = propose(group, AppState::place(pl.type, pl.node, pl.release, wall_ms()));
    changed = true;
    if (r.ok() && r->ok()) {
      spdlog::info("instance-placed app={} id={} node={} release={}", (*app)->name(),
                   r->body.value("id", ""), pl.node, pl.release);
    }
  }
  for (const auto& id : p.unplace) {
    (void)propose(group, AppState::unplace(id, wall_ms()));
    changed = true;
    spdlog::info("instance-unplaced app={} id={}", (*app)->name(), id);
  }
  for (const auto& id : p.remove) {
    (void)propose(group, AppState::remove_instance(id));
    changed = true;
  }
  for (const auto& m : p.moves) {
    // Marked first: if the leader dies before the placement, the next one replaces it anyway.
    auto marked = propose(group, AppState::replace_instance(m.id));
    changed = true;
    if (!marked.ok() || !marked->ok()) continue;
    auto r = propose(group, AppState::place(m.type, m.to, m.release, wall_ms()));
    spdlog::info("instance-moving app={} id={} from={} to={} replacement={} reason=\"{}\"",
                 (*app)->name(), m.id, m.from, m.to,
                 r.ok() && r->ok() ? r->body.value("id", "") : std::string("-"), m.reason);
  }
  if (changed) {
    app = app_state(group, false);
    if (!app.ok()) return true;
  }
  mark_lost(group, **app, nodes);
  bool busy = changed;
  for (const auto& [id, inst] : (*app)->instances()) {
    const bool settling = inst.state == "assigned" || inst.state == "pending" ||
                          inst.state == "starting" || inst.state == "stopping";
    if (settling || (!inst.desired && inst.state != "stopped")) busy = true;
  }

  // Routes first: an instance unplaced above leaves every node's router (each answers, or
  // its call times out) before the assignment below tells its supervisor to stop it.
  publish_routes(group, term, **app, cat);

  // Each node's whole assignment: its desired instances. A node that had some and has none
  // left is told so (an empty list) once, then forgotten.
  std::map<std::string, std::vector<const Instance*>> by_node;
  for (const auto& [id, inst] : (*app)->instances()) {
    if (inst.desired) by_node[inst.node].push_back(&inst);
  }
  std::set<std::string> targets = pushed_[group];
  for (const auto& [node, _] : by_node) targets.insert(node);
  for (const auto& [id, inst] : (*app)->instances()) targets.insert(inst.node);
  std::set<std::string> told;
  for (const auto& node : targets) {
    const std::string addr = rpc_of(node);
    if (addr.empty()) continue;  // dead or gone: the scheduler moves its instances
    auto report = push(node, **app, group, term, by_node[node]);
    if (!report.ok()) {
      if (report.status().is(Status::Code::failed_precondition)) {
        spdlog::warn("app-leader-fenced app={} group={} term={} reason=\"{}\"", (*app)->name(),
                     group, term, report.status().message());
        return false;
      }
      spdlog::debug("app-push-failed app={} node={} reason=\"{}\"", (*app)->name(), node,
                    report.status().message());
      told.insert(node);  // try again next turn
      continue;
    }
    if (!by_node[node].empty()) told.insert(node);
    // Instances of ours on that node that the supervisor no longer lists are gone.
    std::vector<InstanceReport> lines;
    std::set<std::string> listed;
    for (auto& r : *report) {
      listed.insert(r.id);
      const Instance* inst = (*app)->instance(r.id);
      if (inst && inst->node == node && report_differs(*inst, r)) lines.push_back(std::move(r));
    }
    for (const auto& [id, inst] : (*app)->instances()) {
      if (inst.node != node || inst.desired || listed.count(id) || inst.state == "stopped") continue;
      InstanceReport gone;
      gone.id = id;
      gone.state = "stopped";
      gone.generation = inst.generation;
      gone.since_ms = wall_ms();
      lines.push_back(std::move(gone));
    }
    if (!lines.empty()) (void)propose(group, AppState::report(node, lines, wall_ms()));
  }
  pushed_[group] = std::move(told);
  if (autoscale(group, term, **app)) busy = true;
  return busy;
}

void AppService::mark_lost(raft::GroupId group, const AppState& app,
                           const std::vector<NodeInfo>& nodes) {
  // Nobody can report on an instance whose node is down: the leader says what it knows.
  // If the node comes back, its supervisor's report (then `stopped`) replaces this.
  std::map<std::string, std::vector<InstanceReport>> lines;
  for (const auto& [id, inst] : app.instances()) {
    if (inst.desired || inst.state == "stopped" || inst.state == "lost") continue;
    auto n = std::find_if(nodes.begin(), nodes.end(),
                          [&](const NodeInfo& x) { return x.name == inst.node; });
    if (n != nodes.end() && n->alive) continue;
    InstanceReport r;
    r.id = id;
    r.state = "lost";
    r.pid = inst.pid;
    r.port = inst.port;
    r.restarts = inst.restarts;
    r.generation = inst.reported_generation;
    r.message = "node " + inst.node + " is " + (n == nodes.end() ? "gone" : "down");
    r.since_ms = wall_ms();
    lines[inst.node].push_back(std::move(r));
  }
  for (auto& [node, l] : lines) {
    spdlog::info("instances-lost app={} node={} count={}", app.name(), node, l.size());
    (void)propose(group, AppState::report(node, l, wall_ms()));
  }
}

Status AppService::teardown(raft::GroupId group) {
  auto r = propose(group, AppState::set_stopped(true, wall_ms()));
  if (!r.ok()) return r.status();
  if (!r->ok()) return r->status;
  auto st = raft_.status(group);
  if (!st.ok()) return st.status();
  auto app = app_state(group, false);
  if (!app.ok()) return app.status();
  publish_routes(group, st->core.term, **app, nullptr);  // no backends left: drained first
  std::set<std::string> nodes;
  for (const auto& [id, inst] : (*app)->instances()) nodes.insert(inst.node);
  Status first;
  for (const auto& node : nodes) {
    auto rep = push(node, **app, group, st->core.term, {});
    if (!rep.ok() && first.ok()) first = rep.status();
  }
  return first;
}

}  // namespace shoal::node::apps
