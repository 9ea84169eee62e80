// Tests of node/event_filter: `[FILTER=]SCRIPT` specs as serf's -event-handler takes them,
// and the clear errors bad ones get (the agent refuses to start with them).
#include <catch2/catch.hpp>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>

#include "node/agent_config.h"
#include "node/event_filter.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::node;
using namespace std::chrono_literals;

namespace {

EventHandlerSpec spec(std::string_view text) {
  auto s = parse_event_handler(text);
  INFO(text << ": " << (s.ok() ? "" : s.status().message()));
  REQUIRE(s.ok());
  return *s;
}

std::string error_of(std::string_view text) {
  auto s = parse_event_handler(text);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == Status::Code::invalid_argument);
  return s.status().message();
}

}  // namespace

TEST_CASE("event handler: no filter, or *, runs for every event", "[node][event-handler]") {
  for (const auto* text : {"./handler.sh", "*=./handler.sh", "=./handler.sh"}) {
    const auto s = spec(text);
    CHECK(s.script == "./handler.sh");
    for (EventKind k : {EventKind::member_join, EventKind::member_leave, EventKind::member_failed,
                        EventKind::member_update, EventKind::member_reap, EventKind::user,
                        EventKind::query}) {
      CHECK(s.matches(k, "anything"));
    }
  }
}

TEST_CASE("event handler: filters by type and by user event or query name",
          "[node][event-handler]") {
  const auto s = spec("member-join,member-failed,user:deploy,query:uptime=run it");
  CHECK(s.script == "run it");
  REQUIRE(s.filters.size() == 4);
  CHECK(s.filters[2].to_string() == "user:deploy");
  CHECK(s.matches(EventKind::member_join, ""));
  CHECK(s.matches(EventKind::member_failed, ""));
  CHECK_FALSE(s.matches(EventKind::member_leave, ""));
  CHECK_FALSE(s.matches(EventKind::member_update, ""));
  CHECK_FALSE(s.matches(EventKind::member_reap, ""));
  CHECK(s.matches(EventKind::user, "deploy"));
  CHECK_FALSE(s.matches(EventKind::user, "deploy2"));
  CHECK_FALSE(s.matches(EventKind::user, "uptime"));
  CHECK(s.matches(EventKind::query, "uptime"));
  CHECK_FALSE(s.matches(EventKind::query, "deploy"));

  const auto all_user = spec("user=x");
  CHECK(all_user.matches(EventKind::user, "a"));
  CHECK(all_user.matches(EventKind::user, "b"));
  CHECK_FALSE(all_user.matches(EventKind::query, "a"));
  const auto empty_name = spec("query:=x");  // serf: "query:" is every query
  CHECK(empty_name.matches(EventKind::query, "a"));

  const auto spaced = spec("member-join, member-leave =x");
  CHECK(spaced.matches(EventKind::member_leave, ""));
  CHECK(spaced.script == "x");
}

TEST_CASE("event handler: the spec splits at the first '='", "[node][event-handler]") {
  const auto s = spec("user:deploy=FOO=1 ./deploy.sh --x=y");
  CHECK(s.script == "FOO=1 ./deploy.sh --x=y");
  CHECK(s.matches(EventKind::user, "deploy"));
}

TEST_CASE("event handler: bad specs get an error naming the problem", "[node][event-handler]") {
  CHECK_THAT(error_of("member-joined=x"), Catch::Contains("event handler 'member-joined=x'") &&
                                              Catch::Contains("unknown event 'member-joined'") &&
                                              Catch::Contains("member-reap"));
  CHECK_THAT(error_of("user,,query=x"), Catch::Contains("empty entry"));
  CHECK_THAT(error_of("member-join:web=x"), Catch::Contains("only user and query events"));
  CHECK_THAT(error_of("user="), Catch::Contains("the script is empty"));
  CHECK_THAT(error_of(""), Catch::Contains("the script is empty"));
  CHECK_THAT(error_of("user:deploy=  "), Catch::Contains("the script is empty"));
  // A script with '=' and no filter: the part before it is read as the filter, as serf does.
  CHECK_THAT(error_of("FOO=1 ./x.sh"),
             Catch::Contains("unknown event 'FOO'") && Catch::Contains("'*=SCRIPT'"));
}

TEST_CASE("agent config: --event-handler and event_handlers, checked at startup",
          "[node][event-handler][config]") {
  auto parse = [](std::vector<std::string> args) {
    CLI::App app;
    AgentFlags flags;
    add_agent_flags(app, flags);
    std::reverse(args.begin(), args.end());
    app.parse(args);
    AgentEnvironment env;
    env.hostname = "box1";
    return resolve_agent_config(flags, env);
  };
  auto ok = parse({"--event-handler", "user:deploy=./d.sh", "--event-handler", "./all.sh",
                   "--event-handler-timeout", "1500ms"});
  REQUIRE(ok.ok());
  REQUIRE(ok->event_handlers.size() == 2);
  CHECK(ok->event_handlers[0].script == "./d.sh");
  CHECK(ok->event_handlers[1].filters[0].any);
  CHECK(ok->event_handler_timeout == std::chrono::milliseconds(1500));
  auto none = parse({});
  REQUIRE(none.ok());
  CHECK(none->event_handlers.empty());
  CHECK(none->event_handler_timeout == std::chrono::seconds(30));

  auto bad = parse({"--event-handler", "joins=./x.sh"});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(),
             Catch::StartsWith("--event-handler: ") && Catch::Contains("unknown event 'joins'"));
  auto bad_timeout = parse({"--event-handler-timeout", "soon"});
  REQUIRE_FALSE(bad_timeout.ok());
  CHECK_THAT(bad_timeout.status().message(), Catch::Contains("--event-handler-timeout"));
  auto zero = parse({"--event-handler-timeout", "0s"});
  REQUIRE_FALSE(zero.ok());

  const auto dir = test::make_temp_dir("shoal-eh-config");
  const auto file = dir / "agent.toml";
  std::ofstream(file) << "event_handlers = [\"member-join=./j.sh\"]\n"
                         "event_handler_timeout = \"2s\"\n";
  auto from_file = parse({"--config", file.string(), "--event-handler", "user=./u.sh"});
  REQUIRE(from_file.ok());
  REQUIRE(from_file->event_handlers.size() == 2);  // file first, then flags
  CHECK(from_file->event_handlers[0].script == "./j.sh");
  CHECK(from_file->event_handlers[1].script == "./u.sh");
  CHECK(from_file->event_handler_timeout == std::chrono::seconds(2));
  std::ofstream(file) << "event_handlers = [\"nope=./j.sh\"]\n";
  auto bad_file = parse({"--config", file.string()});
  REQUIRE_FALSE(bad_file.ok());
  CHECK_THAT(bad_file.status().message(), Catch::Contains("key 'event_handlers'") &&
                                              Catch::Contains("unknown event 'nope'"));
  std::ofstream(file) << "event_handlers = \"./x.sh\"\n";
  auto not_list = parse({"--config", file.string()});
  REQUIRE_FALSE(not_list.ok());
  CHECK_THAT(not_list.status().message(), Catch::Contains("must be an array of strings"));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("shoal agent with a bad --event-handler exits with a usage error before starting",
          "[node][event-handler][process]") {
  const auto dir = test::make_temp_dir("shoal-eh-bad");
  auto r = test::run_command({"agent", "--node", "x", "--data-dir", (dir / "data").string(),
                              "--event-handler", "member-joinn=./x.sh"},
                             10s);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--event-handler") &&
                        Catch::Contains("unknown event 'member-joinn'"));
  CHECK_FALSE(std::filesystem::exists(dir / "data"));  // nothing was started or created
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
