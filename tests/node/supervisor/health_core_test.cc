// Tests of node/supervisor/health_core (the health rule, fake clock) and of how the
// supervisor's core acts on it: probes at the interval, one at a time, restarts on
// unhealthy with crash accounting, start_period.
#include <catch2/catch.hpp>

#include <algorithm>

#include "node/supervisor/health_core.h"
#include "node/supervisor/supervisor_core.h"

using namespace shoal;
using namespace shoal::node::supervisor;
using namespace std::chrono_literals;

namespace {

HealthSpec check(int healthy = 1, int unhealthy = 3, int64_t start_period_ms = 0) {
  HealthSpec h;
  h.type = "http";
  h.interval_ms = 2000;
  h.timeout_ms = 500;
  h.start_period_ms = start_period_ms;
  h.healthy_threshold = healthy;
  h.unhealthy_threshold = unhealthy;
  return h;
}

// Runs one probe at the tracker's next due time.
HealthVerdict probe(HealthTracker& t, TimePoint& now, bool pass, std::string out = "x") {
  REQUIRE(t.next_probe() != kTimeNever);
  now = std::max(now, t.next_probe());
  REQUIRE(t.due(now));
  const uint64_t token = t.begin();
  CHECK_FALSE(t.due(now + 1h));  // never two at once
  return t.result(token, pass, std::move(out), now);
}

}  // namespace

TEST_CASE("health: no check is none and never probes", "[supervisor][health]") {
  HealthTracker t;
  t.on_start(std::nullopt, kTimeZero);
  CHECK(t.state() == Health::none);
  CHECK(t.next_probe() == kTimeNever);
}

TEST_CASE("health: starting, then healthy after healthy_threshold passes", "[supervisor][health]") {
  HealthTracker t;
  TimePoint now = kTimeZero;
  t.on_start(check(2), now);
  CHECK(t.state() == Health::starting);
  CHECK(t.next_probe() == now + 1s);  // the first probe comes early: min(interval, 1 s)
  auto v = probe(t, now, true);
  CHECK(t.state() == Health::starting);
  CHECK_FALSE(v.changed);
  CHECK(t.next_probe() == now + 2s);  // then at the interval
  v = probe(t, now, true, "HTTP 200");
  CHECK(v.changed);
  CHECK(t.state() == Health::healthy);
  CHECK(t.output() == "HTTP 200");
}

TEST_CASE("health: unhealthy after unhealthy_threshold failures in a row", "[supervisor][health]") {
  HealthTracker t;
  TimePoint now = kTimeZero;
  t.on_start(check(1, 3), now);
  probe(t, now, true);
  REQUIRE(t.state() == Health::healthy);
  CHECK_FALSE(probe(t, now, false).restart);
  CHECK_FALSE(probe(t, now, false).restart);
  CHECK(t.state() == Health::healthy);  // fewer than the threshold: still healthy
  probe(t, now, true);                  // a pass resets the count
  CHECK_FALSE(probe(t, now, false).restart);
  CHECK_FALSE(probe(t, now, false).restart);
  auto v = probe(t, now, false, "HTTP 500");
  CHECK(v.restart);
  CHECK(v.reason == "health check failed 3 times: HTTP 500");
  CHECK(t.state() == Health::unhealthy);
  CHECK(t.next_probe() == kTimeNever);  // this run is over
}

TEST_CASE("health: failures within start_period do not count", "[supervisor][health]") {
  HealthTracker t;
  TimePoint now = kTimeZero;
  t.on_start(check(1, 2, 5000), now);
  CHECK_FALSE(probe(t, now, false).restart);  // 1 s
  CHECK_FALSE(probe(t, now, false).restart);  // 3 s
  CHECK(t.failures() == 0);
  CHECK_FALSE(probe(t, now, false).restart);  // 5 s: counts
  CHECK(t.failures() == 1);
  CHECK(probe(t, now, false).restart);  // 7 s
}

TEST_CASE("health: a restarted unhealthy instance stays unhealthy until it passes",
          "[supervisor][health]") {
  HealthTracker t;
  TimePoint now = kTimeZero;
  t.on_start(check(1, 1), now);
  REQUIRE(probe(t, now, false).restart);
  t.on_stop();
  t.on_start(check(1, 1), now + 1s);
  CHECK(t.state() == Health::unhealthy);
  probe(t, now, true);
  CHECK(t.state() == Health::healthy);
  t.forget();  // an explicit restart: no verdict any more
  CHECK(t.state() == Health::starting);
}

TEST_CASE("health: a result of an earlier run is ignored", "[supervisor][health]") {
  HealthTracker t;
  TimePoint now = kTimeZero;
  t.on_start(check(1, 1), now);
  now = t.next_probe();
  const uint64_t old = t.begin();
  t.on_stop();
  t.on_start(check(1, 1), now);
  auto v = t.result(old, false, "late", now);
  CHECK_FALSE(v.changed);
  CHECK(t.state() == Health::starting);
}

// ---- the core acting on it ----

namespace {

constexpr uint64_t kGroup = kAppGroupBase + 1;
InstanceKey key(const std::string& id) { return {"hello", id}; }

InstanceSpec checked_spec(const std::string& id, std::optional<HealthSpec> h) {
  InstanceSpec s;
  s.id = id;
  s.type = "web";
  s.release = 1;
  s.digest = "d1";
  s.command = "run";
  s.health = std::move(h);
  return s;
}

struct Core {
  SupervisorCore core;
  TimePoint now = kTimeZero + 1000s;

  void assign(std::vector<InstanceSpec> specs) {
    Assignment a;
    a.app = "hello";
    a.group = kGroup;
    a.term = 1;
    a.instances = std::move(specs);
    REQUIRE(core.assign(a, now, 0).ok());
  }
  void up(const std::string& id) {
    auto a = core.prepared(key(id), 1, "d1", std::string("/rel"), now, 0);
    REQUIRE(a.start.size() == 1);
    core.started(key(id), 42, now, 0);
  }
  // Ticks at the next wake-up and returns the probe token asked for, if any.
  std::optional<uint64_t> next_probe(const std::string& id) {
    for (int i = 0; i < 5; ++i) {
      CoreActions a = core.tick(now, 0);
      for (const auto& [k, token] : a.probe) {
        if (k.second == id) return token;
      }
      if (a.wake_at == kTimeNever) return std::nullopt;
      now = std::max(now, a.wake_at);
    }
    return std::nullopt;
  }
  std::string health(const std::string& id) {
    for (const auto& s : core.report("hello")) {
      if (s.id == id) return s.health;
    }
    return "?";
  }
};

}  // namespace

TEST_CASE("core health: probes a running checked instance and reports it", "[supervisor][health]") {
  Core c;
  c.assign({checked_spec("web.1", check(1, 2)), checked_spec("web.2", std::nullopt)});
  CHECK(c.health("web.1") == "starting");
  CHECK(c.health("web.2") == "none");
  c.up("web.1");
  c.up("web.2");
  auto token = c.next_probe("web.1");
  REQUIRE(token);
  CHECK_FALSE(c.next_probe("web.1"));  // the probe in flight: no second one
  auto a = c.core.health_result(key("web.1"), *token, true, "HTTP 200", c.now, 0);
  CHECK(std::count(a.changed.begin(), a.changed.end(), key("web.1")) == 1);
  CHECK(c.health("web.1") == "healthy");
  CHECK(c.core.report("hello")[0].health_output == "HTTP 200");
  CHECK(a.wake_at == c.now + 2s);  // the next probe, an interval later
}

TEST_CASE("core health: unhealthy restarts like a crash and says why", "[supervisor][health]") {
  Core c;
  c.assign({checked_spec("web.1", check(1, 2))});
  c.up("web.1");
  for (int i = 0; i < 2; ++i) {
    auto token = c.next_probe("web.1");
    REQUIRE(token);
    auto a = c.core.health_result(key("web.1"), *token, false, "HTTP 503", c.now, 0);
    CHECK(a.stop.size() == static_cast<size_t>(i));  // stopped on the second failure
  }
  InstanceRecord* r = c.core.find(key("web.1"));
  CHECK(r->state == InstanceState::stopping);
  CHECK(c.health("web.1") == "unhealthy");
  c.core.exited(key("web.1"), "killed by signal 15", c.now, 0);
  c.core.check_invariants();
  r = c.core.find(key("web.1"));
  CHECK(r->restarts == 1);
  CHECK(r->failures == 1);
  CHECK(r->message == "health check failed 2 times: HTTP 503");
  CHECK(r->state == InstanceState::starting);  // the first failure restarts at once
  CHECK(c.health("web.1") == "unhealthy");
}

TEST_CASE("core health: a new check alone does not restart the process", "[supervisor][health]") {
  Core c;
  c.assign({checked_spec("web.1", std::nullopt)});
  c.up("web.1");
  CHECK(c.health("web.1") == "none");
  Assignment a;
  a.app = "hello";
  a.group = kGroup;
  a.term = 1;
  a.instances = {checked_spec("web.1", check())};
  auto acts = c.core.assign(a, c.now, 0);
  REQUIRE(acts.ok());
  CHECK(acts->stop.empty());
  CHECK(c.health("web.1") == "starting");
  CHECK(c.next_probe("web.1"));
}

TEST_CASE("assignment: an instance's health check round-trips, a bad one is refused by name",
          "[supervisor][health]") {
  Assignment a;
  a.app = "hello";
  a.group = kGroup;
  a.term = 1;
  HealthSpec h = check(2, 4, 3000);
  h.type = "command";
  h.command = "test -f ready";
  a.instances = {checked_spec("web.1", h), checked_spec("web.2", std::nullopt)};
  auto back = parse_assignment(to_json(a).dump());
  REQUIRE(back.ok());
  CHECK(*back == a);
  CHECK_FALSE(to_json(a)["instances"][1].contains("health"));

  auto refused = [&](const char* field, nlohmann::json value) {
    nlohmann::json j = to_json(a);
    j["instances"][0]["health"][field] = std::move(value);
    auto r = parse_assignment(j.dump());
    REQUIRE_FALSE(r.ok());
    return r.status().message();
  };
  CHECK_THAT(refused("type", "ping"), Catch::Contains("\"type\" must be http, tcp or command"));
  CHECK_THAT(refused("interval_ms", 0), Catch::Contains("\"interval_ms\" must be at least 1"));
  CHECK_THAT(refused("path", "health"), Catch::Contains("\"path\" must start with '/'"));
  CHECK_THAT(refused("command", ""), Catch::Contains("\"command\" is empty"));
}

TEST_CASE("core health: a stop for being unhealthy still counts as a failure after a restart",
          "[supervisor][health]") {
  Core c;
  c.assign({checked_spec("web.1", check(1, 1))});
  c.up("web.1");
  auto token = c.next_probe("web.1");
  REQUIRE(token);
  c.core.health_result(key("web.1"), *token, false, "HTTP 500", c.now, 0);
  REQUIRE(c.core.find(key("web.1"))->state == InstanceState::stopping);
  // The agent restarts before the process has ended: the record comes back from JSON.
  auto back = instance_record_from_json(to_json(*c.core.find(key("web.1"))));
  REQUIRE(back.ok());
  CHECK(back->health_stop);
  SupervisorCore fresh;
  Assignment a;
  a.app = "hello";
  a.group = kGroup;
  a.term = 1;
  a.instances = {back->spec};
  fresh.restore({*back}, {{kGroup, 1}}, {{"hello", a}}, c.now, 0);
  fresh.exited(key("web.1"), "killed by signal 15", c.now, 0);
  const InstanceRecord* r = fresh.find(key("web.1"));
  REQUIRE(r != nullptr);
  CHECK(r->failures == 1);
  CHECK(r->restarts == 1);
  CHECK(r->message == "health check failed 1 time: HTTP 500");
}
