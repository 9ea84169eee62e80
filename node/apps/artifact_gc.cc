#include "node/apps/artifact_gc.h"

#include <spdlog/spdlog.h>


#include "node/apps/app_state.h"
#include "node/apps/group_ids.h"
#include "node/duration_text.h"
#include "node/supervisor/supervisor.h"

namespace shoal::node::apps {

GcPlan plan_gc(const GcKnowledge& k) {
  GcPlan p;
  for (const auto& h : k.hosted) {
    if (h.read.ok()) p.fetch.insert(h.slugs.begin(), h.slugs.end());
  }
  if (!k.in_use.ok()) {
    p.collect = Status::unavailable("the supervisor did not say which releases it uses: " +
                                    k.in_use.status().message());
    return p;
  }
  std::set<raft::GroupId> catalog_groups;
  if (k.catalog_apps) {
    for (const auto& [app, group] : *k.catalog_apps) catalog_groups.insert(group);
  }
  for (const auto& h : k.hosted) {
    // A destroyed app's member that missed its deletion: no leader will come back. A new
    // app's group that a stale catalog copy lacks has no release older than the grace.
    const bool leftover = k.catalog_apps && h.group != 0 && !catalog_groups.count(h.group);
    if (!h.read.ok() && !leftover) {
      p.collect = Status::unavailable("app group " + std::to_string(h.group) +
                                      " hosted here cannot be read: " + h.read.message());
      return p;
    }
  }
  const auto& in_use = *k.in_use;
  std::map<std::string, std::set<std::string>> kept;
  for (const auto& h : k.hosted) {
    if (!h.read.ok()) continue;  // a leftover (above)
    p.keep_blobs.insert(h.kept.begin(), h.kept.end());
    kept[h.app].insert(h.kept.begin(), h.kept.end());
  }
  for (const auto& [app, digests] : in_use) p.keep_blobs.insert(digests.begin(), digests.end());
  for (const auto& app : k.unpacked_apps) {
    auto& keep = p.keep_releases[app];
    if (auto it = in_use.find(app); it != in_use.end()) keep.insert(it->second.begin(), it->second.end());
    if (auto it = kept.find(app); it != kept.end()) keep.insert(it->second.begin(), it->second.end());
    if (keep.empty() && k.catalog_apps && !k.catalog_apps->count(app)) {
      p.drop_app_dirs.push_back(app);
    }
  }
  return p;
}

Result<GcPassStats> apply_gc(const GcPlan& plan, ArtifactStore& store, ReleaseCache& releases,
                             Duration grace, TimePoint since) {
  if (!plan.collect.ok()) return plan.collect;
  GcPassStats stats;
  Status first_error;
  for (const auto& [app, keep] : plan.keep_releases) {
    auto removed = releases.remove_unused(app, keep, since);
    if (removed.ok()) {
      stats.releases_removed += *removed;
    } else if (first_error.ok()) {
      first_error = removed.status().with_context("unpacked releases of " + app);
    }
  }
  for (const auto& app : plan.drop_app_dirs) {
    if (Status s = releases.remove_app_dir(app); !s.ok() && first_error.ok()) first_error = s;
  }
  auto blobs = store.gc(plan.keep_blobs, grace);
  if (!blobs.ok()) return blobs.status();
  stats.blobs = *blobs;
  if (!first_error.ok()) return first_error;
  return stats;
}

Result<ArtifactGcOptions> gc_options_from_env(ArtifactGcOptions defaults) {
  SHOAL_RETURN_IF_ERROR(duration_from_env_ms("SHOAL_ARTIFACT_GC_INTERVAL_MS", 1, &defaults.interval));
  SHOAL_RETURN_IF_ERROR(duration_from_env_ms("SHOAL_ARTIFACT_GC_GRACE_MS", 0, &defaults.grace));
  return defaults;
}

std::unique_ptr<ArtifactGc> ArtifactGc::start(ArtifactGcOptions options, Deps deps) {
  std::unique_ptr<ArtifactGc> gc(new ArtifactGc(options, std::move(deps)));
  ArtifactGc* self = gc.get();
  gc->thread_ = std::thread([self] { self->loop(); });
  return gc;
}

ArtifactGc::~ArtifactGc() { stop(); }

void ArtifactGc::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ArtifactGc::loop() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, opts_.interval, [this] { return stopping_; })) return;
    }
    pass();
  }
}

GcKnowledge ArtifactGc::read_knowledge() {
  GcKnowledge k;
  k.in_use = deps_.supervisor.digests_in_use();
  auto groups = deps_.raft.list();
  if (!groups.ok()) {
    k.hosted.push_back({0, groups.status().with_context("cannot list raft groups"), "", {}, {}});
  } else {
    for (const auto& g : *groups) {
      if (!is_app_group(g.group)) continue;
      HostedApp h;
      h.group = g.group;
      // A replica that knows its leader and has applied all it knows committed is as
      // fresh as a follower gets; what it may still miss (a release committed a moment
      // ago) is younger than the grace.
      if (!g.stopped.ok()) {
        h.read = Status::unavailable("the group stopped: " + g.stopped.message());
      } else if (g.core.leader.empty()) {
        h.read = Status::unavailable("no leader known");
      } else if (g.core.applied < g.core.commit) {
        h.read = Status::unavailable("applied " + std::to_string(g.core.applied) + " of " +
                                     std::to_string(g.core.commit) + " committed entries");
      } else if (auto copy = deps_.raft.read_machine(g.group, false, opts_.read_timeout);
                 !copy.ok()) {
        h.read = copy.status();
      } else {
        AppState state;
        h.read = state.restore(copy->state);
        if (h.read.ok() && state.name().empty()) {
          h.read = Status::unavailable("not named yet (a new group, or a replica catching up)");
        }
        if (h.read.ok()) {
          h.app = state.name();
          h.kept = state.kept_digests();
          for (const auto& [v, r] : state.releases()) h.slugs.insert(r.digest);
        }
      }
      k.hosted.push_back(std::move(h));
    }
  }
  if (auto apps = deps_.catalog_apps(); apps.ok()) k.catalog_apps = std::move(*apps);
  k.unpacked_apps = deps_.releases.apps();
  return k;
}

void ArtifactGc::pass() {
  const TimePoint since = steady_now();
  const GcKnowledge k = read_knowledge();
  const GcPlan plan = plan_gc(k);

  // A replica holds its apps' kept releases, so a rollback finds them even after the node
  // a deploy came through (and the nodes that ran them) let them go.
  size_t fetched = 0;
  std::vector<std::string> peers;
  for (const auto& d : plan.fetch) {
    if (deps_.store.has(d)) continue;
    if (peers.empty()) peers = deps_.peers();
    if (peers.empty()) break;
    if (Status s = deps_.store.fetch(d, peers); s.ok()) {
      ++fetched;
    } else {
      spdlog::warn("artifact-replicate-failed digest={} reason=\"{}\"", d.substr(0, 12),
                   s.message());
    }
  }

  auto r = apply_gc(plan, deps_.store, deps_.releases, opts_.grace, since);
  if (!plan.collect.ok()) {
    spdlog::warn("artifact-gc-skipped fetched={} reason=\"{}\"", fetched, plan.collect.message());
  } else if (!r.ok()) {
    spdlog::warn("artifact-gc-failed fetched={} reason=\"{}\"", fetched, r.status().to_string());
  } else {
    spdlog::info("artifact-gc removed={} bytes={} kept={} releases_removed={} fetched={}",
                 r->blobs.removed, r->blobs.bytes, r->blobs.kept, r->releases_removed, fetched);
  }
}

}  // namespace shoal::node::apps
