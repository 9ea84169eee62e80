// Tests of node/supervisor/supervisor with real processes: shims of the real `shoal`
// binary running `sh -c` instances on loopback ports, killed, crashing, stopped, re-adopted
// by a reopened supervisor, and the HTTP routes in front of it.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "node/http_client.h"
#include "node/supervisor/http_supervisor.h"
#include "node/supervisor/shim.h"
#include "node/supervisor/supervisor.h"
#include "tests/node/supervisor/supervisor_fixture.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::node::supervisor;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using namespace shoal::test::supervisor_fixture;

TEST_CASE("supervisor: an assigned instance runs with its env and its lines are logged",
          "[supervisor]") {
  Fixture f;
  auto r = f.assign(1, {Fixture::spec("web.1",
                                      "echo \"port=$PORT app=$SHOAL_APP inst=$SHOAL_INSTANCE "
                                      "greeting=$GREETING home=$HOME uid=$(id -u)\"; "
                                      "echo oops >&2; exec sleep 100")});
  REQUIRE(r.ok());
  CHECK(r->node == f.node);
  REQUIRE(r->instances.size() == 1);
  auto s = f.wait_for("web.1", running);
  REQUIRE(s);
  CHECK(s->port >= f.port_min);
  CHECK(alive(s->pid));
  CHECK(f.log_has("port=" + std::to_string(s->port) + " app=hello inst=web.1 greeting=hi home="));
  CHECK(f.log_has("oops"));
  bool err_seen = false;
  for (const auto& l : f.logs()) err_seen |= (l.stream == "err" && l.line == "oops");
  CHECK(err_seen);
  if (::geteuid() == 0) CHECK(f.log_has("uid=" + std::to_string(61000 + 3)));
  {
    std::lock_guard lock(f.changes_mu);
    CHECK(std::any_of(f.changes.begin(), f.changes.end(),
                      [](auto& c) { return c.second.state == InstanceState::running; }));
  }
  REQUIRE(f.sup->stop_all(10s).ok());
  CHECK_FALSE(alive(s->pid));
}

TEST_CASE("supervisor: kill -9 of the app is followed by a restart", "[supervisor]") {
  Fixture f;
  REQUIRE(f.assign(1, {Fixture::spec("web.1", "exec sleep 100")}).ok());
  auto first = f.wait_for("web.1", running);
  REQUIRE(first);
  REQUIRE(::kill(first->pid, SIGKILL) == 0);
  auto second = f.wait_for("web.1", [&](const InstanceStatus& s) {
    return running(s) && s.pid != first->pid;
  });
  REQUIRE(second);
  CHECK(second->restarts == 1);
  CHECK(second->port == first->port);
  CHECK(alive(second->pid));
  CHECK_FALSE(alive(first->pid));
}

TEST_CASE("supervisor: a crashing command backs off, then is marked crashed", "[supervisor]") {
  Fixture f;
  REQUIRE(f.assign(1, {Fixture::spec("web.1", "echo bye; exit 3")}).ok());
  bool saw_backoff = false;
  auto crashed = f.wait_for("web.1", [&](const InstanceStatus& s) {
    saw_backoff |= s.state == InstanceState::backoff;
    return s.state == InstanceState::crashed;
  }, 30s);  // five starts and their backoff; a sanitizer build on a busy machine is slow
  REQUIRE(crashed);
  CHECK(saw_backoff);
  CHECK(crashed->restarts >= 5);
  CHECK(crashed->message.find("exit status 3") != std::string::npos);
}

TEST_CASE("supervisor: a reopened supervisor re-adopts its instances, no duplicates",
          "[supervisor]") {
  Fixture f;
  REQUIRE(f.assign(4, {Fixture::spec("web.1", "exec sleep 100"),
                       Fixture::spec("worker.1", "exec sleep 100")}).ok());
  auto web = f.wait_for("web.1", running);
  auto worker = f.wait_for("worker.1", running);
  REQUIRE(web);
  REQUIRE(worker);
  f.sup.reset();  // the agent goes away; the instances do not
  CHECK(alive(web->pid));
  f.open();
  auto web2 = f.status("web.1");
  REQUIRE(web2);
  CHECK(web2->pid == web->pid);
  CHECK(web2->state == InstanceState::running);
  // Fencing survives the restart too.
  CHECK(f.assign(3, {}).status().is(Status::Code::failed_precondition));
  // The leader re-asserts the same set: nothing new is started.
  auto r = f.assign(4, {Fixture::spec("web.1", "exec sleep 100"),
                        Fixture::spec("worker.1", "exec sleep 100")});
  REQUIRE(r.ok());
  std::this_thread::sleep_for(200ms);
  CHECK(f.status("web.1")->pid == web->pid);
  CHECK(f.status("worker.1")->pid == worker->pid);
  CHECK(f.status("web.1")->restarts == 0);
  // An app process killed while the supervisor was away is restarted once the leader
  // re-asserts it after the reopen (not before: the leader may have moved it meanwhile).
  f.sup.reset();
  REQUIRE(::kill(worker->pid, SIGKILL) == 0);
  std::this_thread::sleep_for(300ms);  // its shim records the exit and ends
  f.open();
  std::this_thread::sleep_for(300ms);
  auto waiting = f.status("worker.1");
  REQUIRE(waiting);
  CHECK_FALSE(running(*waiting));
  REQUIRE(f.assign(4, {Fixture::spec("web.1", "exec sleep 100"),
                       Fixture::spec("worker.1", "exec sleep 100")}).ok());
  auto worker2 = f.wait_for("worker.1", [&](const InstanceStatus& s) {
    return running(s) && s.pid != worker->pid;
  });
  REQUIRE(worker2);
  CHECK(worker2->restarts == 1);
  CHECK(f.status("web.1")->pid == web->pid);
}

TEST_CASE("supervisor: instances no leader re-asserts after a restart are stopped",
          "[supervisor]") {
  Fixture f;
  REQUIRE(f.assign(1, {Fixture::spec("web.1", "exec sleep 100")}).ok());
  auto web = f.wait_for("web.1", running);
  REQUIRE(web);
  f.sup.reset();
  // The grace is long enough that a slow (sanitized, loaded) reopen still sees the
  // re-adopted instance before it runs out.
  f.open(/*reassert_grace=*/2s);
  CHECK(f.status("web.1"));
  const auto deadline = steady_now() + 15s;
  while (alive(web->pid) && steady_now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK_FALSE(alive(web->pid));
  // The process is gone; the supervisor forgets it once it has seen it go (its next turn).
  while (!f.sup->report("hello").empty() && steady_now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(f.sup->report("hello").empty());
  CHECK_FALSE(f.status("web.1"));
}

TEST_CASE("supervisor: unassigned instances get SIGTERM, then go with their cgroup",
          "[supervisor]") {
  Fixture f;
  REQUIRE(f.assign(1, {Fixture::spec("web.1",
                                     "trap 'echo got-term; exit 0' TERM; echo ready; "
                                     "while true; do sleep 0.05; done"),
                       Fixture::spec("web.2", "exec sleep 100")})
              .ok());
  auto s = f.wait_for("web.1", running);
  REQUIRE(s);
  REQUIRE(f.log_has("ready"));
  std::vector<fs::path> cgroup_dirs;
  for (const auto& [controller, base] : f.sup->cgroups().v1) {
    cgroup_dirs.push_back(base / "shoal" / f.node / "hello" / "web.1");
  }
  if (f.sup->cgroups().v2) {
    cgroup_dirs.push_back(*f.sup->cgroups().v2 / "shoal" / f.node / "hello" / "web.1");
  }
  if (::geteuid() == 0) {
    for (const auto& d : cgroup_dirs) CHECK(fs::exists(d));
  }
  auto r = f.assign(2, {Fixture::spec("web.2", "exec sleep 100")});
  REQUIRE(r.ok());
  const auto deadline = steady_now() + 5s;
  while (f.status("web.1") && steady_now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK_FALSE(f.status("web.1"));
  CHECK_FALSE(alive(s->pid));
  CHECK(f.log_has("got-term"));
  for (const auto& d : cgroup_dirs) CHECK_FALSE(fs::exists(d));
  CHECK(f.status("web.2"));
  // A stale term changes nothing.
  auto stale = f.assign(1, {});
  CHECK(stale.status().is(Status::Code::failed_precondition));
  CHECK(f.status("web.2"));
}

TEST_CASE("supervisor: the internal HTTP routes assign and serve logs", "[supervisor]") {
  Fixture f;
  node::HttpRouter router;
  add_supervisor_routes(router, *f.sup, f.data_dir / "agent");
  auto server = node::HttpServer::start(*gossip::Address::parse("127.0.0.1", 0), std::move(router));
  REQUIRE(server.ok());
  const int port = (*server)->address().port;
  auto post = [&](const std::string& body) {
    node::HttpExchange ex;
    ex.method = "POST";
    ex.target = "/v1/internal/assign";
    ex.body = body;
    ex.timeout = 10s;
    auto r = node::http_request("127.0.0.1", port, ex);
    REQUIRE(r.ok());
    return *r;
  };
  auto bad = post("{\"app\": \"hello\"}");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("group") != std::string::npos);

  Assignment a;
  a.app = "hello";
  a.group = kGroup;
  a.term = 9;
  a.instances = {Fixture::spec("web.1", "echo line-one; echo line-two; exec sleep 100")};
  auto ok = post(to_json(a).dump());
  REQUIRE(ok.status == 200);
  auto report = parse_assign_report(ok.body);
  REQUIRE(report.ok());
  CHECK(report->node == f.node);
  REQUIRE(report->instances.size() == 1);
  CHECK(report->instances[0].id == "web.1");
  a.term = 8;
  CHECK(post(to_json(a).dump()).status == 409);

  REQUIRE(f.log_has("line-two"));
  node::HttpExchange get;
  get.target = "/v1/internal/logs?app=hello&lines=1";
  auto logs = node::http_request("127.0.0.1", port, get);
  REQUIRE(logs.ok());
  CHECK(logs->status == 200);
  CHECK(logs->body.find("\"line\":\"line-two\"") != std::string::npos);
  CHECK(logs->body.find("line-one") == std::string::npos);
  get.target = "/v1/internal/logs?app=Bad!";
  CHECK(node::http_request("127.0.0.1", port, get)->status == 400);

  // follow=1: a line written later arrives on the open stream.
  std::string streamed;
  node::HttpExchange follow;
  follow.target = "/v1/internal/logs?app=hello&lines=0&follow=1";
  follow.timeout = 10s;
  follow.on_body = [&](std::string_view chunk) {
    streamed.append(chunk);
    return streamed.find("late-line") == std::string::npos;
  };
  std::thread writer([&] {
    std::this_thread::sleep_for(300ms);
    a.term = 10;
    a.instances[0].generation = 1;
    a.instances[0].command = "echo late-line; exec sleep 100";
    post(to_json(a).dump());
  });
  auto followed = node::http_request("127.0.0.1", port, follow);
  writer.join();
  REQUIRE(followed.ok());
  CHECK(streamed.find("late-line") != std::string::npos);
  (*server)->stop();
}

TEST_CASE("supervisor: an instance's log is rotated and bounded", "[supervisor]") {
  Fixture f;
  f.sup.reset();
  f.open(60s, /*log_max_bytes=*/4096);
  REQUIRE(f.assign(1, {Fixture::spec("web.1",
                                     "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; "
                                     "echo done-writing; exec sleep 100")})
              .ok());
  REQUIRE(f.log_has("done-writing"));
  const fs::path dir = f.data_dir / "supervisor" / "instances" / "hello" / "web.1";
  CHECK(fs::exists(dir / "log.1"));
  CHECK(fs::exists(dir / "log.2"));
  CHECK_FALSE(fs::exists(dir / "log.3"));
  for (const char* name : {"log", "log.1", "log.2"}) CHECK(fs::file_size(dir / name) <= 4096);
  // The newest lines are there, in order, across the files.
  auto last = tail_logs(f.sup->log_sources("hello", "web", ""), 3);
  REQUIRE(last.size() == 3);
  CHECK(last[0].line == "line-1998");
  CHECK(last[1].line == "line-1999");
  CHECK(last[2].line == "done-writing");
}

TEST_CASE("supervisor: time from kill -9 of an app to its restart running",
          "[.][supervisor-bench]") {
  Fixture f;
  REQUIRE(f.assign(1, {Fixture::spec("web.1", "exec sleep 100")}).ok());
  std::vector<double> ms;
  for (int trial = 0; trial < 20; ++trial) {
    auto before = f.wait_for("web.1", running);
    REQUIRE(before);
    std::this_thread::sleep_for(50ms);
    const auto t0 = steady_now();
    REQUIRE(::kill(before->pid, SIGKILL) == 0);
    auto after = f.wait_for("web.1", [&](const InstanceStatus& s) {
      return running(s) && s.pid != before->pid;
    }, 30s);
    REQUIRE(after);
    ms.push_back(to_seconds(steady_now() - t0) * 1000);
    // Let the crash count reset: each trial then measures a first failure (no backoff).
    REQUIRE(f.assign(1 + trial + 1, {Fixture::spec("web.1", "exec sleep 100", trial + 1)}).ok());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("kill -9 to restart running: %zu trials, median %.1f ms, max %.1f ms, min %.1f ms\n",
              ms.size(), ms[ms.size() / 2], ms.back(), ms.front());
}
