// The app leader's resource bookkeeping and autoscaler (AppService, docs/apps.md
// "Autoscaling"): the usage each push's report carries, and the routers' request counts
// each route push's answers carry, are kept in memory per group; each turn, every type with
// an [autoscale.TYPE] rule gets decide_scale()'s verdict, committed as AppState::scale when
// it changes the count.
#include <spdlog/spdlog.h>

#include "node/apps/app_routes.h"
#include "node/apps/app_service.h"

namespace shoal::node::apps {

namespace {

int64_t wall_ms() { return to_millis(std::chrono::system_clock::now().time_since_epoch()); }

}  // namespace

void AppService::note_usage(raft::GroupId group,
                            const std::vector<supervisor::InstanceStatus>& report) {
  std::lock_guard lock(usage_mu_);
  UsageHistory& h = usage_[group];
  for (const auto& s : report) {
    if (s.usage) h.add(s.id, *s.usage);
  }
}

void AppService::note_requests(raft::GroupId group, const std::string& node,
                               uint64_t requests) {
  std::lock_guard lock(usage_mu_);
  request_rates_[group].add(node, wall_ms(), requests);
}

std::map<std::string, supervisor::ResourceUsage> AppService::recent_usage(
    raft::GroupId group) const {
  std::lock_guard lock(usage_mu_);
  auto it = usage_.find(group);
  return it == usage_.end() ? std::map<std::string, supervisor::ResourceUsage>{}
                            : it->second.latest();
}

bool AppService::autoscale(raft::GroupId group, raft::Term term, const AppState& app) {
  const int64_t now = wall_ms();
  std::map<std::string, InstanceSamples> samples;  // running, desired instances by id
  const Manifest* m = app.current_manifest();
  const AutoscaleRule* web_rule = m ? m->autoscale_for(kWebType) : nullptr;
  std::optional<double> web_rps;  // through every router, over the web rule's window
  {
    std::lock_guard lock(usage_mu_);
    if (web_rule && web_rule->target_rps > 0) {
      web_rps = request_rates_[group].rate(now, web_rule->window_ms);
    }
    UsageHistory& h = usage_[group];
    std::set<std::string> ids;
    for (const auto& [id, inst] : app.instances()) ids.insert(id);
    h.retain(ids);  // removed instances' samples go
    for (const auto& [id, inst] : app.instances()) {
      if (inst.desired && inst.state == "running") samples[id] = InstanceSamples{id, h.cpu(id)};
    }
  }
  GroupScaleMemo& gm = scale_memo_[group];
  if (gm.term != term) gm = GroupScaleMemo{term, {}};
  auto& memo = gm.types;
  bool changed = false;
  for (const auto& [type, f] : app.formation()) {
    // A count that changed since the last turn (a manual scale, a deploy) starts the
    // cool-down; so does each new term, its leader not knowing when the count last changed.
    ScaleMemo& mm = memo[type];
    if (mm.count != f.count) mm = ScaleMemo{f.count, now};
    const AutoscaleRule* rule = m ? m->autoscale_for(type) : nullptr;
    if (rule == nullptr || app.stopped()) continue;
    AutoscaleInput in;
    in.type = type;
    in.rule = *rule;
    in.count = f.count;
    in.last_scale_ms = mm.changed_ms;
    in.now_ms = now;
    if (type == kWebType) in.rps = web_rps;
    for (const auto& [id, inst] : app.instances()) {
      if (inst.type == type && samples.count(id)) in.instances.push_back(samples[id]);
    }
    auto d = decide_scale(in);
    if (!d) continue;
    auto r = propose(group, AppState::scale({{type, d->count}}));
    if (!r.ok() || !r->ok()) {
      spdlog::warn("app-autoscale-failed app={} type={} to={} reason=\"{}\"", app.name(), type,
                   d->count, r.ok() ? r->status.message() : r.status().message());
      continue;
    }
    spdlog::info("app-scaled app={} type={} from={} to={} by=autoscaler reason=\"{}\"", app.name(),
                 type, f.count, d->count, d->reason);
    mm = ScaleMemo{d->count, now};
    changed = true;
  }
  return changed;
}

}  // namespace shoal::node::apps
