// Artifact GC (node/apps/artifact_gc.h): the plan from what a node knows, and its effect on
// a real store and release cache on disk.
#include "node/apps/artifact_gc.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "tests/node/artifacts/artifact_test_util.h"

namespace shoal::node::apps {
namespace {

using test::TempDir;
using test::write_file;
namespace fs = std::filesystem;

std::string digest_of(char c) { return std::string(64, c); }

// A replica of app `app` (group 1<<62 + seq) whose kept releases have these slugs.
HostedApp hosted(uint64_t seq, const std::string& app, std::set<std::string> slugs) {
  HostedApp h;
  h.group = (1ull << 62) + seq;
  h.app = app;
  h.kept = slugs;
  h.slugs = std::move(slugs);
  return h;
}

// Sets a file's mtime `age` into the past.
void age(const fs::path& p, std::chrono::seconds by) {
  timespec times[2];
  ::clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= by.count();
  times[1] = times[0];
  REQUIRE(::utimensat(AT_FDCWD, p.c_str(), times, 0) == 0);
}

TEST_CASE("artifact gc plan: keep set is hosted apps' kept releases plus what the supervisor "
          "uses",
          "[artifacts][gc]") {
  GcKnowledge k;
  k.in_use = std::map<std::string, std::set<std::string>>{{"other", {digest_of('c')}}};
  k.hosted = {hosted(1, "web", {digest_of('a'), digest_of('b')})};
  k.catalog_apps = std::map<std::string, raft::GroupId>{{"web", (1ull << 62) + 1}, {"other", (1ull << 62) + 3}};
  k.unpacked_apps = {"gone", "other", "web"};
  GcPlan p = plan_gc(k);
  REQUIRE(p.collect.ok());
  CHECK(p.keep_blobs == std::set<std::string>{digest_of('a'), digest_of('b'), digest_of('c')});
  CHECK(p.fetch == std::set<std::string>{digest_of('a'), digest_of('b')});
  CHECK(p.keep_releases.at("web") == std::set<std::string>{digest_of('a'), digest_of('b')});
  // Not hosted here: only what the supervisor uses keeps its unpacked releases.
  CHECK(p.keep_releases.at("other") == std::set<std::string>{digest_of('c')});
  CHECK(p.keep_releases.at("gone").empty());
  CHECK(p.drop_app_dirs == std::vector<std::string>{"gone"});

  SECTION("a catalog that cannot be read drops no app directory") {
    k.catalog_apps.reset();
    p = plan_gc(k);
    REQUIRE(p.collect.ok());
    CHECK(p.drop_app_dirs.empty());
    CHECK(p.keep_releases.at("gone").empty());
  }
  SECTION("an app still in use is not dropped even when the catalog lacks it") {
    k.catalog_apps = std::map<std::string, raft::GroupId>{{"web", (1ull << 62) + 1}};
    p = plan_gc(k);
    CHECK(p.drop_app_dirs == std::vector<std::string>{"gone"});
  }
  SECTION("one hosted group that cannot be read: nothing is collected, replicas still fetch") {
    HostedApp lagging;
    lagging.group = (1ull << 62) + 2;
    lagging.read = Status::unavailable("no leader known");
    k.hosted.push_back(lagging);
    (*k.catalog_apps)["new"] = lagging.group;
    p = plan_gc(k);
    CHECK(p.collect.is(Status::Code::unavailable));
    CHECK(p.collect.message().find("no leader known") != std::string::npos);
    CHECK(p.fetch == std::set<std::string>{digest_of('a'), digest_of('b')});
    // Nor when the catalog cannot be read to tell.
    k.catalog_apps.reset();
    CHECK(plan_gc(k).collect.is(Status::Code::unavailable));
  }
  SECTION("a hosted group the catalog no longer lists (a destroyed app's leftover) is ignored") {
    HostedApp leftover;
    leftover.group = (1ull << 62) + 9;
    leftover.read = Status::unavailable("no leader known");
    k.hosted.push_back(leftover);
    p = plan_gc(k);
    REQUIRE(p.collect.ok());
    CHECK(p.keep_blobs == std::set<std::string>{digest_of('a'), digest_of('b'), digest_of('c')});
  }
  SECTION("a supervisor that does not answer: nothing is collected") {
    k.in_use = Status::timeout("the supervisor's loop did not answer");
    p = plan_gc(k);
    CHECK(p.collect.is(Status::Code::unavailable));
  }
}

TEST_CASE("artifact gc: removes unreferenced old blobs and releases, keeps referenced and "
          "young ones, removes nothing on partial knowledge",
          "[artifacts][gc]") {
  TempDir t;
  auto store_or = ArtifactStore::open(t / "data/artifacts");
  REQUIRE(store_or.ok());
  ArtifactStore& store = **store_or;
  ReleaseCacheOptions ro;
  ro.packages_lock = t / "packages.lock";
  ReleaseCache cache(t / "data", store, ro);

  const std::string kept = store.put_bytes("#!/bin/sh\necho kept\n").value();
  const std::string used = store.put_bytes("#!/bin/sh\necho used\n").value();
  const std::string old = store.put_bytes("#!/bin/sh\necho old\n").value();
  const std::string young = store.put_bytes("#!/bin/sh\necho young\n").value();
  const std::string gone_app = store.put_bytes("#!/bin/sh\necho gone\n").value();
  const uint64_t freed = store.size(old).value() + store.size(gone_app).value();
  REQUIRE(cache.prepare("web", 1, kept, {}).ok());
  REQUIRE(cache.prepare("web", 2, old, {}).ok());
  REQUIRE(cache.prepare("bin", 1, used, {}).ok());
  REQUIRE(cache.prepare("gone", 1, gone_app, {}).ok());
  // Old, but for `young` (a prepare's fetch finds its blob present and makes it young).
  for (const auto& d : {kept, used, old, gone_app}) age(store.path(d), std::chrono::hours(2));
  const TimePoint since = steady_now();
  const fs::path releases = t / "data/releases";

  GcKnowledge k;
  k.in_use = std::map<std::string, std::set<std::string>>{{"bin", {used}}};
  k.hosted = {hosted(1, "web", {kept})};
  k.catalog_apps = std::map<std::string, raft::GroupId>{{"web", (1ull << 62) + 1}, {"bin", (1ull << 62) + 5}};
  k.unpacked_apps = cache.apps();
  CHECK(k.unpacked_apps == std::vector<std::string>{"bin", "gone", "web"});

  SECTION("whole knowledge: collects") {
    const GcPlan plan = plan_gc(k);
    auto r = apply_gc(plan, store, cache, std::chrono::hours(1), since);
    INFO(r.status().to_string());
    REQUIRE(r.ok());
    CHECK(r->blobs.removed == 2);  // old, gone_app
    CHECK(r->blobs.bytes == freed);
    CHECK(r->blobs.kept == 3);
    CHECK(r->releases_removed == 2);  // web/old, gone/gone_app
    CHECK(store.has(kept));
    CHECK(store.has(used));
    CHECK(store.has(young));  // unreferenced, but within the grace
    CHECK_FALSE(store.has(old));
    CHECK_FALSE(store.has(gone_app));
    CHECK(fs::exists(releases / "web" / kept / "app"));
    CHECK_FALSE(fs::exists(releases / "web" / old));
    CHECK(fs::exists(releases / "bin" / used / "app"));
    CHECK_FALSE(fs::exists(releases / "gone"));  // destroyed: the whole directory
    CHECK(cache.apps() == std::vector<std::string>{"bin", "web"});

    // Past the grace, the young one goes too; a second pass changes nothing else.
    age(store.path(young), std::chrono::hours(2));
    r = apply_gc(plan_gc(k), store, cache, std::chrono::hours(1), since);
    REQUIRE(r.ok());
    CHECK(r->blobs.removed == 1);
    CHECK(store.list().size() == 2);
  }
  SECTION("a release prepared after the pass started reading is not removed") {
    REQUIRE(cache.prepare("web", 2, old, {}).ok());  // in use again, e.g. just assigned
    auto r = apply_gc(plan_gc(k), store, cache, std::chrono::hours(1), since);
    REQUIRE(r.ok());
    CHECK(fs::exists(releases / "web" / old / "app"));
    CHECK(r->releases_removed == 1);  // only gone/gone_app
    // The next pass, started after that prepare, may remove it.
    r = apply_gc(plan_gc(k), store, cache, std::chrono::hours(1), steady_now());
    REQUIRE(r.ok());
    CHECK_FALSE(fs::exists(releases / "web" / old));
  }
  SECTION("a hosted group that cannot be read: nothing is removed") {
    HostedApp behind;
    behind.group = (1ull << 62) + 2;
    behind.read = Status::unavailable("applied 3 of 9 committed entries");
    k.hosted.push_back(behind);
    (*k.catalog_apps)["late"] = behind.group;
    auto r = apply_gc(plan_gc(k), store, cache, std::chrono::hours(1), since);
    CHECK(r.status().is(Status::Code::unavailable));
    CHECK(store.list().size() == 5);
    CHECK(fs::exists(releases / "web" / old / "app"));
    CHECK(fs::exists(releases / "gone" / gone_app / "app"));
  }
  SECTION("a blob a put finds already there is young again") {
    CHECK(store.put_bytes("#!/bin/sh\necho old\n").value() == old);
    auto r = apply_gc(plan_gc(k), store, cache, std::chrono::hours(1), since);
    REQUIRE(r.ok());
    CHECK(store.has(old));
  }
}

TEST_CASE("artifact gc options from the environment", "[artifacts][gc]") {
  ::unsetenv("SHOAL_ARTIFACT_GC_INTERVAL_MS");
  ::unsetenv("SHOAL_ARTIFACT_GC_GRACE_MS");
  auto d = gc_options_from_env();
  REQUIRE(d.ok());
  CHECK(d->interval == std::chrono::minutes(5));
  CHECK(d->grace == std::chrono::hours(1));
  ::setenv("SHOAL_ARTIFACT_GC_INTERVAL_MS", "250", 1);
  ::setenv("SHOAL_ARTIFACT_GC_GRACE_MS", "0", 1);
  auto o = gc_options_from_env();
  REQUIRE(o.ok());
  CHECK(o->interval == std::chrono::milliseconds(250));
  CHECK(o->grace == Duration::zero());
  for (const char* bad : {"", "0", "-5", "12x", "lots"}) {
    ::setenv("SHOAL_ARTIFACT_GC_INTERVAL_MS", bad, 1);
    auto r = gc_options_from_env();
    CHECK(r.status().is(Status::Code::invalid_argument));
    CHECK(r.status().message().find("SHOAL_ARTIFACT_GC_INTERVAL_MS") != std::string::npos);
  }
  ::unsetenv("SHOAL_ARTIFACT_GC_INTERVAL_MS");
  ::unsetenv("SHOAL_ARTIFACT_GC_GRACE_MS");
}

}  // namespace
}  // namespace shoal::node::apps
