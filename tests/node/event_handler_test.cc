// Tests of node/event_handler: the runner in one process, with real scripts writing to a
// temporary directory — filters, order per handler, query answers, failures, coalescing,
// a full queue, and stop().
#include <catch2/catch.hpp>

#include <algorithm>
#include <mutex>
#include <thread>

#include "node/event_handler.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::node;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  std::filesystem::path dir = test::make_temp_dir("shoal-handlers");
  std::mutex mu;
  std::vector<std::pair<uint64_t, std::string>> answers;
  Status respond_status;

  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  EventHandlerRunner::Options options(std::vector<std::string> specs, bool coalesce = false) {
    EventHandlerRunner::Options o;
    for (const auto& s : specs) o.handlers.push_back(*parse_event_handler(s));
    o.timeout = 30s;  // generous: a loaded, sanitized CI machine must not time a script out
    if (!coalesce) {
      o.coalesce.member_period = Duration::zero();
      o.coalesce.user_period = Duration::zero();
    }
    return o;
  }
  EventHandlerRunner::Respond respond() {
    return [this](uint64_t token, Bytes payload) {
      std::lock_guard lock(mu);
      answers.emplace_back(token, std::string(payload.begin(), payload.end()));
      return respond_status;
    };
  }
  std::string file(const std::string& name) const { return (dir / name).string(); }
  std::string read(const std::string& name) const { return test::read_file(dir / name); }
  // Waits (bounded) until `pred` holds.
  template <typename Pred>
  bool wait_for(Pred pred, Duration timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }
};

gossip::Member self_member() {
  gossip::Member m;
  m.name = "me";
  m.addr = *gossip::Address::parse("127.0.0.1:7946");
  m.tags = {{"role", "web"}};
  return m;
}

AgentEvent user_event(std::string name, std::string payload, uint64_t ltime,
                      bool coalesce = false) {
  AgentEvent ev;
  ev.kind = AgentEvent::Kind::user;
  ev.user = gossip::UserEvent{ltime, std::move(name), Bytes(payload.begin(), payload.end()),
                              coalesce};
  return ev;
}

AgentEvent member_event(gossip::MemberEventType type, std::string name) {
  AgentEvent ev;
  ev.kind = AgentEvent::Kind::member;
  ev.member_type = type;
  ev.member.name = std::move(name);
  ev.member.addr = *gossip::Address::parse("127.0.0.2:7946");
  return ev;
}

AgentEvent query_event(std::string name, uint64_t token, size_t max_payload = 1000) {
  AgentEvent ev;
  ev.kind = AgentEvent::Kind::query;
  ev.query.token = token;
  ev.query.ltime = 9;
  ev.query.name = std::move(name);
  ev.query.payload = {'q'};
  ev.query.max_payload = max_payload;
  return ev;
}

}  // namespace

TEST_CASE("handlers: each runs for the events its filter matches, in order",
          "[node][event-handler]") {
  Fixture f;
  EventHandlerRunner runner(
      f.options({"user:deploy=echo \"$SERF_USER_EVENT $(cat) $SERF_USER_LTIME\" >> " +
                     f.file("deploy"),
                 "member-join=cat >> " + f.file("joins"),
                 "echo \"$SERF_EVENT $SHOAL_SELF_NAME $SERF_TAG_ROLE\" >> " + f.file("all")}),
      f.respond());
  const auto self = self_member();
  for (int i = 1; i <= 5; ++i) runner.submit(user_event("deploy", "v" + std::to_string(i), i), self);
  runner.submit(user_event("other", "x", 6), self);
  runner.submit(member_event(gossip::MemberEventType::join, "peer-1"), self);
  runner.submit(member_event(gossip::MemberEventType::leave, "peer-1"), self);
  REQUIRE(f.wait_for([&] { return runner.stats().runs == 5 + 1 + 8; }));
  // `runs` counts scripts started: wait for each handler's last one to have written.
  const auto lines = [&](const std::string& file) {
    const auto text = f.read(file);
    return std::count(text.begin(), text.end(), '\n');
  };
  REQUIRE(f.wait_for([&] { return lines("all") == 8 && lines("deploy") == 5 && lines("joins") == 1; }));
  CHECK(f.read("deploy") == "deploy v1 1\ndeploy v2 2\ndeploy v3 3\ndeploy v4 4\ndeploy v5 5\n");
  CHECK(f.read("joins") == "peer-1\t127.0.0.2\t\t\n");
  CHECK(f.read("all") ==
        "user me web\nuser me web\nuser me web\nuser me web\nuser me web\nuser me web\n"
        "member-join me web\nmember-leave me web\n");
  runner.stop();
  INFO("timeouts " << runner.stats().timeouts);
  CHECK(runner.stats().failures == 0);
}

TEST_CASE("handlers: a query handler's stdout answers the query", "[node][event-handler]") {
  Fixture f;
  EventHandlerRunner runner(
      f.options({"query:uptime=printf 'up on %s' \"$SERF_SELF_NAME\"; echo noise >&2",
                 "query:silent=true", "query:fails=echo partial; exit 1",
                 "query:long=head -c 50 /dev/zero"}),
      f.respond());
  const auto self = self_member();
  runner.submit(query_event("uptime", 11), self);
  runner.submit(query_event("silent", 12), self);
  runner.submit(query_event("fails", 13), self);
  runner.submit(query_event("long", 14, /*max_payload=*/40), self);
  REQUIRE(f.wait_for([&] { return runner.stats().runs == 4 && runner.stats().failures == 2; }));
  runner.stop();
  std::lock_guard lock(f.mu);
  // Only stdout, and only a successful, non-empty answer that fits the limit is sent.
  REQUIRE(f.answers.size() == 1);
  CHECK(f.answers[0].first == 11);
  CHECK(f.answers[0].second == "up on me");
}

TEST_CASE("handlers: failures are counted, a refused answer is a failure too",
          "[node][event-handler]") {
  Fixture f;
  f.respond_status = Status::failed_precondition("the response is past the query's deadline");
  auto o = f.options({"user:bad=exit 4", "user:slow=sleep 20", "query=echo late"});
  o.timeout = 300ms;
  EventHandlerRunner runner(std::move(o), f.respond());
  const auto self = self_member();
  runner.submit(user_event("bad", "", 1), self);
  runner.submit(user_event("slow", "", 2), self);
  runner.submit(query_event("q", 5), self);
  REQUIRE(f.wait_for([&] { return runner.stats().failures == 3; }));
  const auto st = runner.stats();
  CHECK(st.runs == 3);
  CHECK(st.timeouts == 1);
}

TEST_CASE("handlers: a slow handler delays only itself, its full queue drops events",
          "[node][event-handler]") {
  Fixture f;
  auto o =
      f.options({"user:block=sleep 20", "user:go=echo $SERF_USER_EVENT >> " + f.file("fast")});
  o.queue_max = 2;
  EventHandlerRunner runner(std::move(o), f.respond());
  const auto self = self_member();
  for (int i = 1; i <= 5; ++i) runner.submit(user_event("block", "", i), self);
  runner.submit(user_event("go", "", 6), self);
  // The fast handler saw its events although the other one is stuck in its first run.
  REQUIRE(f.wait_for([&] { return f.read("fast").find("go") != std::string::npos; }));
  // block: one running, two queued, the rest dropped.
  CHECK(runner.stats().dropped >= 2);
  const auto started = std::chrono::steady_clock::now();
  runner.stop();  // kills the sleeper; does not wait 20 s
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK(runner.stats().dropped >= 4);  // and its queue went with it
}

TEST_CASE("handlers: member events are coalesced as serf's agent does",
          "[node][event-handler]") {
  Fixture f;
  auto o = f.options({"member-join=cat >> " + f.file("joins") + "; echo --- >> " + f.file("joins"),
                      "user=echo $SERF_USER_EVENT $(cat) >> " + f.file("users")},
                     /*coalesce=*/true);
  o.coalesce.member_period = 400ms;
  o.coalesce.member_quiescent = 200ms;
  o.coalesce.user_period = 400ms;
  o.coalesce.user_quiescent = 200ms;
  EventHandlerRunner runner(std::move(o), f.respond());
  const auto self = self_member();
  runner.submit(member_event(gossip::MemberEventType::join, "b"), self);
  runner.submit(member_event(gossip::MemberEventType::join, "a"), self);
  runner.submit(user_event("deploy", "old", 3, /*coalesce=*/true), self);
  runner.submit(user_event("deploy", "new", 4, /*coalesce=*/true), self);
  runner.submit(user_event("keep", "both-1", 5, /*coalesce=*/false), self);
  REQUIRE(f.wait_for([&] { return runner.stats().runs == 3; }));
  REQUIRE(f.wait_for([&] { return f.read("joins").find("---") != std::string::npos; }));
  // One run, both members, sorted by name.
  CHECK(f.read("joins") == "a\t127.0.0.2\t\t\nb\t127.0.0.2\t\t\n---\n");
  REQUIRE(f.wait_for([&] {
    const auto u = f.read("users");
    return std::count(u.begin(), u.end(), '\n') == 2;
  }));
  // The uncoalesced event passes at once; of the coalesced ones only the newest runs.
  CHECK(f.read("users") == "keep both-1\ndeploy new\n");
}
