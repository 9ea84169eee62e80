// Tests of node/apps/auto_rollback: when the app leader rolls a failed release back on its
// own, and when it must not (no older release serving, a rollback of a rollback, a newer
// deploy in between).
#include "node/apps/auto_rollback.h"

#include <catch2/catch.hpp>

#include "node/apps/scheduler.h"
#include "tests/node/apps/deploy_test_util.h"

using namespace shoal;
using namespace shoal::node::apps;
using namespace shoal::node::apps::test;

namespace {

constexpr int64_t kMade = 1;  // created_ms of every release deploy() makes

void place_all(AppState& app, const std::vector<NodeInfo>& nodes) {
  const Plan p = plan(app, nodes, 0);
  for (const auto& pl : p.place) REQUIRE(run(app, AppState::place(pl.type, pl.node, pl.release, 1)).ok());
  for (const auto& id : p.unplace) REQUIRE(run(app, AppState::unplace(id)).ok());
}

void report(AppState& app, const std::string& id, const std::string& state,
            const std::string& health = "none", const std::string& message = "") {
  InstanceReport line{id, state, 7, 20001, 0, 0, 1, message};
  line.health = health;
  REQUIRE(run(app, AppState::report(app.instance(id)->node, {line})).ok());
}

// v1 with two web instances up (health-checked), then v2 deployed and its first instance
// placed: the state in which a rollout can fail.
AppState rolling_v2() {
  AppState app;
  const std::string toml = "[formation]\nweb = 2\n[health]\npath = \"/h\"\n";
  deploy(app, "web: ./w\n", toml);
  const std::vector<NodeInfo> nodes = {{"n1"}, {"n2"}};
  place_all(app, nodes);
  report(app, "web.1", "running", "healthy");
  report(app, "web.2", "running", "healthy");
  deploy(app, "web: ./w2\n", toml + "[deploy]\nhealthy_deadline = \"30s\"\n", 'b');
  place_all(app, nodes);
  REQUIRE(app.instance("web.3") != nullptr);
  REQUIRE(app.instance("web.3")->release == 2);
  return app;
}

}  // namespace

TEST_CASE("auto rollback: a release that is still coming up is left alone",
          "[apps][rollback]") {
  AppState app = rolling_v2();
  CHECK_FALSE(auto_rollback(app, kMade + 29'999));
  report(app, "web.3", "running", "starting");
  CHECK_FALSE(auto_rollback(app, kMade + 29'999));
}

TEST_CASE("auto rollback: an unhealthy new instance rolls back to the serving release",
          "[apps][rollback]") {
  AppState app = rolling_v2();
  report(app, "web.3", "running", "unhealthy", "health check failed 3 times: HTTP 500");
  auto d = auto_rollback(app, kMade + 5);
  REQUIRE(d);
  CHECK(d->from == 2);
  CHECK(d->to == 1);
  CHECK(d->reason == "instance web.3 is unhealthy: health check failed 3 times: HTTP 500");
  CHECK(d->description() ==
        "automatic rollback of v2 to v1: instance web.3 is unhealthy: health check failed 3 "
        "times: HTTP 500");
  CHECK(auto_rollback(app, kMade + 5) == d);  // level-triggered: the same answer again

  // Committed as the leader does: a new release equal to v1, and no rollback of it.
  auto r = run(app, AppState::rollback(d->to, 10, d->description(), d->from));
  REQUIRE(r.ok());
  CHECK(app.current_version() == 3);
  CHECK(app.current_release()->description == d->description());
  CHECK(app.current_release()->digest == app.release(1)->digest);
  CHECK(is_automatic_rollback(app.current_release()->description));
  CHECK_FALSE(auto_rollback(app, kMade + 1'000'000));
  // The same command again (a retried turn) is refused: v2 is no longer current.
  CHECK_FALSE(run(app, AppState::rollback(d->to, 10, d->description(), d->from)).ok());
}

TEST_CASE("auto rollback: a crash loop or a failed start rolls back, naming the instance",
          "[apps][rollback]") {
  AppState crashed = rolling_v2();
  report(crashed, "web.3", "crashed", "none", "exited with status 2");
  auto d = auto_rollback(crashed, kMade);
  REQUIRE(d);
  CHECK(d->reason == "instance web.3 crashed: exited with status 2");

  AppState failed = rolling_v2();
  report(failed, "web.3", "failed", "none", "no such command");
  REQUIRE(auto_rollback(failed, kMade));
  CHECK(auto_rollback(failed, kMade)->reason == "instance web.3 failed: no such command");
}

TEST_CASE("auto rollback: past healthy_deadline without being up rolls back",
          "[apps][rollback]") {
  AppState app = rolling_v2();
  report(app, "web.3", "running", "starting");
  CHECK_FALSE(auto_rollback(app, kMade + 29'999));
  auto d = auto_rollback(app, kMade + 30'000);
  REQUIRE(d);
  CHECK(d->reason.find("0 of 2 instances up 30 s after v2") != std::string::npos);
}

TEST_CASE("auto rollback: never without an older release serving", "[apps][rollback]") {
  // A first deploy that fails: nothing to go back to.
  AppState app;
  deploy(app, "web: ./w\n", "[health]\npath = \"/h\"\n");
  place_all(app, {{"n1"}});
  report(app, "web.1", "running", "unhealthy", "health check failed 3 times: HTTP 500");
  CHECK_FALSE(auto_rollback(app, kMade + 10'000'000));

  // The old instances are gone too (not up): nothing serves, so no rollback either.
  AppState gone = rolling_v2();
  report(gone, "web.1", "crashed");
  report(gone, "web.2", "running", "unhealthy");
  report(gone, "web.3", "running", "unhealthy");
  CHECK_FALSE(auto_rollback(gone, kMade));

  // A stopped app is not rolled back.
  AppState stopped = rolling_v2();
  report(stopped, "web.3", "crashed");
  REQUIRE(run(stopped, AppState::set_stopped(true)).ok());
  CHECK_FALSE(auto_rollback(stopped, kMade));
}

TEST_CASE("auto rollback: a finished rollout is not rolled back when an instance fails later",
          "[apps][rollback]") {
  AppState app = rolling_v2();
  report(app, "web.3", "running", "healthy");
  // v1 replaced entirely: no older release serves.
  REQUIRE(run(app, AppState::unplace("web.1")).ok());
  REQUIRE(run(app, AppState::unplace("web.2")).ok());
  report(app, "web.3", "running", "unhealthy");
  CHECK_FALSE(auto_rollback(app, kMade + 10'000'000));
}
