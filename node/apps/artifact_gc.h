// node/apps/artifact_gc.h
//
// Artifact garbage collection on one node (docs/artifacts.md, "Garbage collection"): keeps
// a long-running node's DATA_DIR/artifacts and DATA_DIR/releases from growing without
// bound, and never deletes what the node or the cluster may still need.
//
// A pass:
//  1. reads what is needed: the slugs this node's supervisor has assigned, running or
//     prepared (per app); the kept releases (AppState::kept_digests) of every app group
//     this node holds a replica of; the catalog's app names;
//  2. fetches the kept release slugs of those apps that are missing here, so that every
//     replica of an app holds its kept releases and a rollback can fetch them;
//  3. removes unpacked releases of each app that the supervisor does not use and that are
//     not kept (a replica's apps), and the directory of an app the catalog no longer has;
//  4. removes blobs that are neither kept nor in use, unless younger than the grace.
// Knowledge must be whole: if the supervisor does not answer, or any app group hosted here
// cannot be read with confidence (stopped, no leader known, applied behind its commit, not
// named yet), steps 3 and 4 are skipped for that pass and the log says why. The one
// exception: a group the catalog (read whole) no longer lists is a leftover member of a
// destroyed app (its deletion missed this node) and is ignored: it would block GC forever.
//
// plan_gc() is the decision (pure); apply_gc() does steps 3 and 4 on the store and cache;
// ArtifactGc is the shell, with its own thread: never the apps control thread, which a
// fetch of a large blob would hold up.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "node/artifacts/artifact_store.h"
#include "node/artifacts/release_cache.h"
#include "node/raft_service.h"

namespace shoal::node::supervisor {
class Supervisor;
}

namespace shoal::node::apps {

// One app group this node holds a replica of, as read for a pass.
struct HostedApp {
  raft::GroupId group = 0;
  Status read;                  // not ok: why this replica's state cannot be trusted now
  std::string app;              // its name (when read is ok)
  std::set<std::string> kept;   // AppState::kept_digests(): slugs and sources
  std::set<std::string> slugs;  // the kept releases' slugs: what a replica holds
};

struct GcKnowledge {
  Result<std::map<std::string, std::set<std::string>>> in_use =
      Status::unavailable("not read");                      // the supervisor's, per app
  std::vector<HostedApp> hosted;                            // every app group hosted here
  // The catalog's apps and their groups; nullopt: the catalog could not be read.
  std::optional<std::map<std::string, raft::GroupId>> catalog_apps;
  std::vector<std::string> unpacked_apps;                   // ReleaseCache::apps()
};

struct GcPlan {
  Status collect;                    // not ok: remove nothing this pass (the reason)
  std::set<std::string> keep_blobs;  // what gc() keeps besides young blobs
  std::set<std::string> fetch;       // slugs a replica here should hold (present or not)
  std::map<std::string, std::set<std::string>> keep_releases;  // per app with unpacked releases
  std::vector<std::string> drop_app_dirs;  // apps gone from the catalog with nothing in use
};

GcPlan plan_gc(const GcKnowledge& k);

struct GcPassStats {
  GcStats blobs;
  size_t releases_removed = 0;
};

// Steps 3 and 4 for an ok plan (an error plan removes nothing and returns its reason).
// Blobs younger than `grace` stay; releases prepare()d at or after `since` stay.
Result<GcPassStats> apply_gc(const GcPlan& plan, ArtifactStore& store, ReleaseCache& releases,
                             Duration grace, TimePoint since);

struct ArtifactGcOptions {
  Duration interval = std::chrono::minutes(5);  // between passes; the first after one interval
  Duration grace = std::chrono::hours(1);       // blobs younger than this are never removed
  Duration read_timeout = std::chrono::seconds(5);
};

// Overrides from the environment, for tests (docs/artifacts.md): SHOAL_ARTIFACT_GC_INTERVAL_MS
// (> 0) and SHOAL_ARTIFACT_GC_GRACE_MS (>= 0). invalid_argument naming the variable when a
// value is not a number in range.
Result<ArtifactGcOptions> gc_options_from_env(ArtifactGcOptions defaults = {});

class ArtifactGc {
 public:
  struct Deps {
    RaftService& raft;
    supervisor::Supervisor& supervisor;
    ArtifactStore& store;
    ReleaseCache& releases;
    // The catalog's apps and groups (from this node's replica or a node that holds one).
    std::function<Result<std::map<std::string, raft::GroupId>>()> catalog_apps;
    // API addresses of the other live nodes, to fetch missing slugs from.
    std::function<std::vector<std::string>()> peers;
  };
  static std::unique_ptr<ArtifactGc> start(ArtifactGcOptions options, Deps deps);
  ~ArtifactGc();
  ArtifactGc(const ArtifactGc&) = delete;
  ArtifactGc& operator=(const ArtifactGc&) = delete;
  // Ends the thread (waiting for a pass under way).
  void stop();

 private:
  ArtifactGc(ArtifactGcOptions options, Deps deps) : opts_(options), deps_(std::move(deps)) {}
  void loop();
  void pass();
  GcKnowledge read_knowledge();

  ArtifactGcOptions opts_;
  Deps deps_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace shoal::node::apps
