// Tests of node/supervisor/supervisor_core: the supervisor's decisions without processes —
// fencing, the backoff sequence, the crash loop, generation restarts, removal, restore.
#include <catch2/catch.hpp>

#include <algorithm>

#include "node/supervisor/supervisor_core.h"

using namespace shoal;
using namespace shoal::node::supervisor;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kGroup = kAppGroupBase + 1;

InstanceSpec spec(const std::string& id, int64_t generation = 0, int64_t release = 1) {
  InstanceSpec s;
  s.id = id;
  s.type = "web";
  s.release = release;
  s.digest = "d" + std::to_string(release);
  s.command = "run";
  s.generation = generation;
  return s;
}

Assignment assignment(uint64_t term, std::vector<InstanceSpec> instances) {
  Assignment a;
  a.app = "hello";
  a.group = kGroup;
  a.term = term;
  a.leader = "node-a";
  a.instances = std::move(instances);
  return a;
}

bool has(const std::vector<InstanceKey>& keys, const std::string& id) {
  return std::any_of(keys.begin(), keys.end(), [&](const InstanceKey& k) { return k.second == id; });
}

InstanceKey key(const std::string& id) { return {"hello", id}; }

struct Harness {
  CorePolicy policy;
  SupervisorCore core;
  TimePoint now = kTimeZero + 1000s;

  explicit Harness(CorePolicy p = {}) : policy(p), core(p) {}

  CoreActions assign(uint64_t term, std::vector<InstanceSpec> instances) {
    auto r = core.assign(assignment(term, std::move(instances)), now, 0);
    REQUIRE(r.ok());
    core.check_invariants();
    return std::move(*r);
  }
  // Prepare and start an instance that the last assignment created.
  void bring_up(const std::string& id, int pid) {
    InstanceRecord* r = core.find(key(id));
    REQUIRE(r != nullptr);
    auto a = core.prepared(key(id), r->spec.release, r->spec.digest, std::string("/rel"), now, 0);
    REQUIRE(has(a.start, id));
    core.started(key(id), pid, now, 0);
    core.check_invariants();
    REQUIRE(core.find(key(id))->state == InstanceState::running);
  }
  InstanceState state(const std::string& id) { return core.find(key(id))->state; }
};

}  // namespace

TEST_CASE("core: a new instance is prepared, started, then running", "[supervisor]") {
  Harness h;
  auto a = h.assign(1, {spec("web.1")});
  CHECK(has(a.prepare, "web.1"));
  CHECK(a.start.empty());
  CHECK(a.persist.count("hello"));
  CHECK(h.state("web.1") == InstanceState::pending);
  auto p = h.core.prepared(key("web.1"), 1, "d1", std::string("/rel"), h.now, 0);
  CHECK(has(p.start, "web.1"));
  CHECK(h.state("web.1") == InstanceState::starting);
  h.core.started(key("web.1"), 42, h.now, 0);
  CHECK(h.state("web.1") == InstanceState::running);
  CHECK(h.core.report("hello").at(0).pid == 42);
}

TEST_CASE("core: a lower term is refused and changes nothing", "[supervisor]") {
  Harness h;
  h.assign(5, {spec("web.1")});
  auto stale = h.core.assign(assignment(4, {}), h.now, 0);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.status().is(Status::Code::failed_precondition));
  CHECK(h.core.find(key("web.1")) != nullptr);
  CHECK(h.core.terms().at(kGroup) == 5);
  // The same term again (a resend) and a higher one are accepted.
  CHECK(h.core.assign(assignment(5, {spec("web.1")}), h.now, 0).ok());
  CHECK(h.core.assign(assignment(6, {spec("web.1")}), h.now, 0).ok());
  CHECK(h.core.terms().at(kGroup) == 6);
}

TEST_CASE("core: backoff is 0, base, 2 base, 4 base ... capped", "[supervisor]") {
  CorePolicy p;
  p.backoff_base = 1s;
  p.backoff_max = 60s;
  CHECK(backoff_delay(p, 1) == 0s);
  CHECK(backoff_delay(p, 2) == 1s);
  CHECK(backoff_delay(p, 3) == 2s);
  CHECK(backoff_delay(p, 4) == 4s);
  CHECK(backoff_delay(p, 8) == 60s);  // 64 s capped
  CHECK(backoff_delay(p, 1000) == 60s);
}

TEST_CASE("core: a crash restarts at once, then backs off, then is a crash loop at K",
          "[supervisor]") {
  CorePolicy p;
  p.crash_loop_after = 5;
  Harness h(p);
  h.assign(1, {spec("web.1")});
  h.bring_up("web.1", 100);

  // First failure: restarted at once, restarts=1.
  auto a = h.core.exited(key("web.1"), "killed by signal 9", h.now, 0);
  CHECK(has(a.start, "web.1"));
  CHECK(h.state("web.1") == InstanceState::starting);
  CHECK(h.core.report("hello")[0].restarts == 1);

  std::vector<Duration> waits;
  for (int failure = 2; failure <= 6; ++failure) {
    h.core.started(key("web.1"), 100 + failure, h.now, 0);
    h.now += 1s;  // a short run: the count goes on
    a = h.core.exited(key("web.1"), "exit status 1", h.now, 0);
    h.core.check_invariants();
    CHECK(a.start.empty());
    CHECK(h.state("web.1") == (failure >= 5 ? InstanceState::crashed : InstanceState::backoff));
    REQUIRE(a.wake_at != kTimeNever);
    waits.push_back(a.wake_at - h.now);
    // Nothing happens before the deadline, the restart comes at it.
    CHECK(h.core.tick(a.wake_at - 1ms, 0).start.empty());
    h.now = a.wake_at;
    CHECK(has(h.core.tick(h.now, 0).start, "web.1"));
  }
  CHECK(waits == std::vector<Duration>{1s, 2s, 4s, 8s, 16s});
  CHECK(h.core.report("hello")[0].restarts == 6);
  CHECK(h.core.report("hello")[0].message.find("failures in a row") != std::string::npos);
}

TEST_CASE("core: a long run resets the failure count", "[supervisor]") {
  Harness h;
  h.assign(1, {spec("web.1")});
  h.bring_up("web.1", 100);
  h.core.exited(key("web.1"), "exit status 1", h.now, 0);  // failure 1, restarted at once
  h.core.started(key("web.1"), 101, h.now, 0);
  h.now += 90s;  // longer than backoff_reset_after
  auto a = h.core.exited(key("web.1"), "exit status 1", h.now, 0);
  CHECK(has(a.start, "web.1"));  // counted as a first failure again: no wait
  CHECK(h.core.find(key("web.1"))->failures == 1);
}

TEST_CASE("core: a new generation stops the instance and starts it again", "[supervisor]") {
  Harness h;
  h.assign(1, {spec("web.1")});
  h.bring_up("web.1", 100);
  auto a = h.assign(1, {spec("web.1", /*generation=*/1)});
  CHECK(has(a.stop, "web.1"));
  CHECK(h.state("web.1") == InstanceState::stopping);
  // Still running past the grace: SIGKILL.
  auto t = h.core.tick(h.now + h.policy.stop_grace, 0);
  CHECK(has(t.kill, "web.1"));
  auto e = h.core.exited(key("web.1"), "killed by signal 9", h.now + 11s, 0);
  CHECK(has(e.start, "web.1"));  // asked to stop: not a failure, no backoff
  CHECK(h.core.report("hello")[0].restarts == 0);
  CHECK(h.core.find(key("web.1"))->running->generation == 1);
}

TEST_CASE("core: a new release is prepared before the old process stops", "[supervisor]") {
  Harness h;
  h.assign(1, {spec("web.1")});
  h.bring_up("web.1", 100);
  auto a = h.assign(2, {spec("web.1", 0, /*release=*/2)});
  CHECK(has(a.prepare, "web.1"));
  CHECK(a.stop.empty());
  CHECK(h.state("web.1") == InstanceState::running);
  auto p = h.core.prepared(key("web.1"), 2, "d2", std::string("/rel2"), h.now, 0);
  CHECK(has(p.stop, "web.1"));
  auto e = h.core.exited(key("web.1"), "exit status 0", h.now, 0);
  CHECK(has(e.start, "web.1"));
  CHECK(h.core.find(key("web.1"))->release_dir == "/rel2");
}

TEST_CASE("core: digests in use cover the assignment and an old release still stopping",
          "[supervisor][gc]") {
  using Sets = std::map<std::string, std::set<std::string>>;
  Harness h;
  CHECK(h.core.digests_in_use().empty());
  h.assign(1, {spec("web.1")});
  h.bring_up("web.1", 100);
  CHECK(h.core.digests_in_use() == Sets{{"hello", {"d1"}}});
  // v2 assigned: d2 is being prepared while the process of d1 still runs.
  h.assign(2, {spec("web.1", 0, /*release=*/2)});
  CHECK(h.core.digests_in_use() == Sets{{"hello", {"d1", "d2"}}});
  h.core.prepared(key("web.1"), 2, "d2", std::string("/rel2"), h.now, 0);
  auto e = h.core.exited(key("web.1"), "exit status 0", h.now, 0);
  REQUIRE(has(e.start, "web.1"));
  h.core.started(key("web.1"), 101, h.now, 0);
  CHECK(h.core.digests_in_use() == Sets{{"hello", {"d2"}}});
  // Told to run nothing: once stopped and removed, nothing of the app is in use.
  h.assign(2, {});
  h.core.exited(key("web.1"), "exit status 0", h.now, 0);
  CHECK(h.core.digests_in_use() == Sets{{"hello", {}}});
}

TEST_CASE("core: an instance no longer listed is stopped, then removed", "[supervisor]") {
  Harness h;
  h.assign(1, {spec("web.1"), spec("web.2")});
  h.bring_up("web.1", 100);
  h.bring_up("web.2", 200);
  auto a = h.assign(1, {spec("web.2")});
  CHECK(has(a.stop, "web.1"));
  CHECK_FALSE(has(a.stop, "web.2"));
  auto e = h.core.exited(key("web.1"), "exit status 0", h.now, 0);
  REQUIRE(e.remove.size() == 1);
  CHECK(e.remove[0].spec.id == "web.1");
  CHECK(e.start.empty());
  CHECK(h.core.find(key("web.1")) == nullptr);
  // An instance with no process (never prepared) goes at once.
  h.assign(1, {spec("web.2"), spec("web.3")});
  auto b = h.assign(1, {spec("web.2")});
  CHECK(b.remove.size() == 1);
  CHECK(h.core.find(key("web.3")) == nullptr);
}

TEST_CASE("core: a failed prepare is reported and retried after a pause", "[supervisor]") {
  Harness h;
  h.assign(1, {spec("web.1")});
  auto a = h.core.prepared(key("web.1"), 1, "d1", Status::not_found("no peer has d1"), h.now, 0);
  CHECK(h.state("web.1") == InstanceState::failed);
  CHECK(h.core.report("hello")[0].message.find("no peer has d1") != std::string::npos);
  CHECK(a.prepare.empty());
  REQUIRE(a.wake_at > h.now);
  CHECK(has(h.core.tick(a.wake_at, 0).prepare, "web.1"));
}

TEST_CASE("core: restored apps that no leader re-asserts are stopped after the grace",
          "[supervisor]") {
  CorePolicy p;
  p.reassert_grace = 60s;
  Harness h(p);
  InstanceRecord kept, orphan;
  for (auto* r : {&kept, &orphan}) {
    r->spec = spec(r == &kept ? "web.1" : "web.2");
    r->app = r == &kept ? "hello" : "other";
    r->state = InstanceState::running;
    r->running = r->spec;
    r->prepared = true;
    r->pid = 7;
  }
  auto a = h.core.restore({kept, orphan}, {{kGroup, 3}}, {}, h.now, 0);
  CHECK(a.stop.empty());
  CHECK(a.wake_at == h.now + 60s);
  // The term survives the restart: fencing still holds.
  CHECK_FALSE(h.core.assign(assignment(2, {spec("web.1")}), h.now, 0).ok());
  REQUIRE(h.core.assign(assignment(3, {spec("web.1")}), h.now + 1s, 0).ok());
  auto t = h.core.tick(h.now + 60s, 0);
  CHECK(t.stop == std::vector<InstanceKey>{{"other", "web.2"}});
  CHECK(h.core.find(key("web.1"))->state == InstanceState::running);
}

TEST_CASE("core: a restored instance whose process died with the node starts again only "
          "once a leader re-asserts it",
          "[supervisor]") {
  CorePolicy p;
  p.reassert_grace = 60s;
  Harness h(p);
  InstanceRecord moved, kept;
  for (auto* r : {&moved, &kept}) {
    r->spec = spec(r == &moved ? "web.1" : "web.2");
    r->app = "hello";
    r->state = InstanceState::running;
    r->running = r->spec;
    r->prepared = true;
    r->prepared_release = r->spec.release;
    r->prepared_digest = r->spec.digest;
    r->pid = 7;
  }
  auto a = h.core.restore({moved, kept}, {{kGroup, 3}}, {}, h.now, 0);
  // Both processes died with the node (the supervisor finds no shim).
  for (const char* id : {"web.1", "web.2"}) {
    auto e = h.core.exited(key(id), "killed by signal 9", h.now, 0);
    CHECK(e.start.empty());
    CHECK(e.prepare.empty());
  }
  auto t = h.core.tick(h.now + 5s, 0);
  CHECK(t.start.empty());
  // The leader re-asserts: web.1 was moved away meanwhile, web.2 stays here.
  auto r = h.core.assign(assignment(3, {spec("web.2")}), h.now + 6s, 0);
  REQUIRE(r.ok());
  CHECK(has(r->start, "web.2"));
  CHECK_FALSE(has(r->start, "web.1"));
  CHECK(h.core.find(key("web.1")) == nullptr);
}

TEST_CASE("core: a new list of artifact peers does not restart a running instance",
          "[supervisor]") {
  Harness h;
  auto first = spec("web.1");
  first.artifact_peers = {"127.0.0.1:7001", "127.0.0.1:7002"};
  h.assign(1, {first});
  h.bring_up("web.1", 42);
  // A node failed: the leader's next push lists one peer fewer.
  auto next = first;
  next.artifact_peers = {"127.0.0.1:7001"};
  auto a = h.assign(1, {next});
  CHECK(a.stop.empty());
  CHECK(a.prepare.empty());
  CHECK(h.core.tick(h.now + 2s, 0).stop.empty());
  CHECK(h.state("web.1") == InstanceState::running);
  CHECK(h.core.find(key("web.1"))->running->artifact_peers == next.artifact_peers);
  // A new generation still restarts it.
  next.generation = 2;
  a = h.assign(1, {next});
  CHECK(has(a.stop, "web.1"));
}

TEST_CASE("core: assignment JSON round-trips and bad input is named", "[supervisor]") {
  auto a = assignment(7, {spec("web.1")});
  a.instances[0].env = {{"K", "V"}};
  a.instances[0].artifact_peers = {"127.0.0.1:8081"};
  auto back = assignment_from_json(to_json(a));
  REQUIRE(back.ok());
  CHECK(*back == a);

  CHECK(parse_assignment("{").status().message().find("not valid JSON") != std::string::npos);
  CHECK(parse_assignment(R"({"app":"Bad_Name","group":1,"term":1,"instances":[]})")
            .status().message().find("DNS label") != std::string::npos);
  CHECK(parse_assignment(R"({"app":"a","group":1,"term":-1,"instances":[]})")
            .status().message().find("term") != std::string::npos);
  CHECK(parse_assignment(
            R"({"app":"a","group":1,"term":1,"instances":[{"id":"../x","type":"web","release":1,"command":"c"}]})")
            .status().message().find("instance id") != std::string::npos);
  CHECK(parse_assignment(
            R"({"app":"a","group":1,"term":1,"instances":[{"id":"w.1","type":"web","release":1,"command":"c","env":{"K":1}}]})")
            .status().message().find("env \"K\"") != std::string::npos);
}

// Issue 8, rolling deploys: an instance that leaves the assignment gets SIGTERM, and
// SIGKILL exactly when its own stop grace (the manifest's deploy.stop_grace) has passed.
TEST_CASE("core: an unplaced instance is killed exactly after its spec's stop grace",
          "[supervisor][rolling]") {
  CorePolicy p;
  p.stop_grace = 10s;
  Harness h(p);
  InstanceSpec s = spec("web.1");
  s.stop_grace_ms = 3'000;
  h.assign(1, {s});
  h.bring_up("web.1", 100);
  auto a = h.assign(1, {});
  CHECK(has(a.stop, "web.1"));  // SIGTERM now
  CHECK(h.state("web.1") == InstanceState::stopping);
  CHECK_FALSE(has(h.core.tick(h.now + 2999ms, 0).kill, "web.1"));
  CHECK(has(h.core.tick(h.now + 3000ms, 0).kill, "web.1"));  // not the policy's 10 s
  auto e = h.core.exited(key("web.1"), "killed by signal 9", h.now + 3001ms, 0);
  CHECK(e.remove.size() == 1);

  // Without one, the supervisor's own grace applies.
  h.assign(1, {spec("web.2")});
  h.bring_up("web.2", 200);
  h.assign(1, {});
  CHECK_FALSE(has(h.core.tick(h.now + 9999ms, 0).kill, "web.2"));
  CHECK(has(h.core.tick(h.now + 10s, 0).kill, "web.2"));
}

TEST_CASE("core: stop_grace_ms round-trips in the assignment JSON and is bounded",
          "[supervisor][rolling]") {
  auto a = assignment(7, {spec("web.1")});
  a.instances[0].stop_grace_ms = 2'500;
  const auto j = to_json(a);
  CHECK(j["instances"][0]["stop_grace_ms"] == 2'500);
  auto back = assignment_from_json(j);
  REQUIRE(back.ok());
  CHECK(*back == a);
  // Absent (an older leader): 0, the supervisor's default.
  CHECK_FALSE(to_json(assignment(7, {spec("web.1")}))["instances"][0].contains("stop_grace_ms"));
  CHECK(parse_assignment(
            R"({"app":"a","group":1,"term":1,"instances":[{"id":"w.1","type":"web","release":1,"command":"c","stop_grace_ms":-1}]})")
            .status().message().find("stop_grace_ms") != std::string::npos);
  CHECK(parse_assignment(
            R"({"app":"a","group":1,"term":1,"instances":[{"id":"w.1","type":"web","release":1,"command":"c","stop_grace_ms":99999999}]})")
            .status().message().find("stop_grace_ms") != std::string::npos);
}

TEST_CASE("core: metrics_path round-trips in the assignment JSON and must be a plain path",
          "[supervisor][metrics]") {
  auto a = assignment(7, {spec("web.1")});
  a.instances[0].metrics_path = "/metrics?format=text";
  const auto j = to_json(a);
  CHECK(j["instances"][0]["metrics_path"] == "/metrics?format=text");
  auto back = assignment_from_json(j);
  REQUIRE(back.ok());
  CHECK(*back == a);
  CHECK_FALSE(to_json(assignment(7, {spec("web.1")}))["instances"][0].contains("metrics_path"));
  for (const char* bad : {"metrics", "/a b", "/a\\r\\nHost: x"}) {
    const std::string body =
        std::string(R"({"app":"a","group":1,"term":1,"instances":[{"id":"w.1","type":"web","release":1,"command":"c","metrics_path":")") +
        bad + R"("}]})";
    INFO(body);
    CHECK(parse_assignment(body).status().message().find("metrics_path") != std::string::npos);
  }
}
