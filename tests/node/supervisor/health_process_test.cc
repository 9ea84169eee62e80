// Health checks with real processes (node/supervisor/health_prober + the supervisor): an
// http check against python3's http.server, a tcp check nothing answers (restarts, and the
// report says why), a command check run in the release dir as the app with its env.
#include <catch2/catch.hpp>

#include <fstream>

#include "node/supervisor/health_prober.h"
#include "tests/node/supervisor/supervisor_fixture.h"

using namespace shoal;
using namespace shoal::test::supervisor_fixture;

namespace {

HealthSpec fast_check(const std::string& type) {
  HealthSpec h;
  h.type = type;
  h.interval_ms = 200;
  h.timeout_ms = 200;
  h.healthy_threshold = 1;
  h.unhealthy_threshold = 2;
  return h;
}

InstanceSpec checked(const std::string& id, const std::string& command, HealthSpec h) {
  InstanceSpec s = Fixture::spec(id, command);
  s.health = std::move(h);
  return s;
}

const char* kHttpServer = "exec python3 -m http.server \"$PORT\" --bind 127.0.0.1";

}  // namespace

TEST_CASE("health process: an http check of a live server makes it healthy", "[supervisor][health]") {
  Fixture f;
  HealthSpec h = fast_check("http");
  h.timeout_ms = h.interval_ms = 1000;
  h.start_period_ms = 10'000;  // python may start slowly on a loaded machine: no restart
  REQUIRE(f.assign(1, {checked("web.1", kHttpServer, h)}).ok());
  auto first = f.wait_for("web.1", running);
  REQUIRE(first);
  CHECK(first->health == "starting");
  auto s = f.wait_for("web.1", [](const InstanceStatus& s) { return s.health == "healthy"; }, 15s);
  REQUIRE(s);
  CHECK(s->health_output == "HTTP 200");
  CHECK(s->restarts == 0);
}

TEST_CASE("health process: a check that keeps failing restarts the instance, saying why",
          "[supervisor][health]") {
  Fixture f;
  SECTION("tcp: nothing listens") {
    REQUIRE(f.assign(1, {checked("web.1", "exec sleep 100", fast_check("tcp"))}).ok());
    auto s = f.wait_for("web.1", [](const InstanceStatus& s) { return s.restarts >= 1; }, 10s);
    REQUIRE(s);
    CHECK(s->health == "unhealthy");
    CHECK(s->message.find("health check failed 2 times: connect to 127.0.0.1:") == 0);
    CHECK(s->message.find("Connection refused") != std::string::npos);
  }
  SECTION("http: a path that answers 404") {
    HealthSpec h = fast_check("http");
    h.path = "/missing";
    h.timeout_ms = h.interval_ms = 1000;
    REQUIRE(f.assign(1, {checked("web.1", kHttpServer, h)}).ok());
    auto s = f.wait_for("web.1", [](const InstanceStatus& s) { return s.restarts >= 1; }, 20s);
    REQUIRE(s);
    CHECK(s->health == "unhealthy");
    CHECK(s->message.find("health check failed 2 times: HTTP 404") == 0);
  }
}

TEST_CASE("health process: a command check runs in the release dir as the app, with its env",
          "[supervisor][health]") {
  Fixture f;
  std::ofstream(f.release_dir / "marker") << "x";
  HealthSpec h = fast_check("command");
  h.interval_ms = h.timeout_ms = 1000;
  h.unhealthy_threshold = 100;
  h.command = "test -f ./marker && test -f \"$HOME/ready\" && echo \"ok $SHOAL_INSTANCE $(id -u)\"";
  REQUIRE(f.assign(1, {checked("web.1", "sleep 1; touch \"$HOME/ready\"; exec sleep 100", h)})
              .ok());
  auto s = f.wait_for("web.1", [](const InstanceStatus& s) { return s.health == "healthy"; }, 15s);
  REQUIRE(s);
  const std::string uid = std::to_string(::geteuid() == 0 ? 61000 + 3 : ::geteuid());
  CHECK(s->health_output == "exit status 0: ok web.1 " + uid);
  CHECK(s->restarts == 0);
}

TEST_CASE("health probe: a command past its timeout fails, naming it", "[supervisor][health]") {
  ProbeTarget t;
  t.check = fast_check("command");
  t.check.command = "sleep 5";
  t.dir = "/";
  const auto start = steady_now();
  ProbeResult r = run_probe(t);
  CHECK_FALSE(r.pass);
  CHECK(r.output.find("timed out") != std::string::npos);
  CHECK(steady_now() - start < 4s);
}

TEST_CASE("health process: a re-adopted instance is checked again after a reopen",
          "[supervisor][health]") {
  Fixture f;
  HealthSpec h = fast_check("tcp");
  h.timeout_ms = h.interval_ms = 1000;
  h.start_period_ms = 10'000;
  REQUIRE(f.assign(1, {checked("web.1", kHttpServer, h)}).ok());
  auto healthy = [](const InstanceStatus& s) { return s.health == "healthy"; };
  auto first = f.wait_for("web.1", healthy, 15s);
  REQUIRE(first);
  CHECK(first->health_output == "connected");
  f.sup.reset();  // the agent goes away; the instance does not
  f.open();
  auto adopted = f.status("web.1");
  REQUIRE(adopted);
  CHECK(adopted->pid == first->pid);
  CHECK(adopted->health == "starting");  // the check's spec came back from the records
  auto again = f.wait_for("web.1", healthy, 15s);
  REQUIRE(again);
  CHECK(again->pid == first->pid);
  CHECK(again->restarts == 0);
}
