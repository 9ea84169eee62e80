// --event-handler with real processes on loopback: Shoal's handlers and serf 0.9.4's
// (`serf agent -event-handler`) see each other's user events, a serf query is answered by
// a Shoal query handler, a member-join handler sees the node that joined, a restart from
// the snapshot does not run handlers again for old events, and a handler past its timeout
// is killed while gossip goes on. Handlers write to files in a temporary directory.
#include <catch2/catch.hpp>

#include <fstream>

#include "tests/integration/serf_process.h"

namespace shoal::test {
namespace {

constexpr auto kConverge = 20s;
constexpr auto kDeliver = 15s;  // both agents coalesce user events (up to 3 s); ASan slack

struct TempDir {
  std::filesystem::path path = make_temp_dir("shoal-handlers-it");
  ~TempDir() {
    if (std::getenv("SHOAL_KEEP_TEST_DIRS") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::string read(const std::string& name) const { return read_file(path / name); }
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

size_t count_of(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// Waits until `name` in `dir` contains `needle`.
bool file_gets(const TempDir& dir, const std::string& name, const std::string& needle,
               std::chrono::milliseconds timeout = kDeliver) {
  return eventually([&] { return dir.read(name); },
                    [&](const std::string& s) { return contains(s, needle); }, timeout);
}

nlohmann::json self_stats(const AgentProcess& agent) {
  auto r = agent.client(3s).call("GET", "/v1/agent/self");
  return r.ok() ? (*r)["stats"] : nlohmann::json::object();
}

void send_event(const AgentProcess& from, const std::string& name, const std::string& payload,
                bool coalesce = true) {
  auto r = from.client().send("POST",
                              "/v1/event/" + name + (coalesce ? "" : "?coalesce=false"),
                              payload, "application/octet-stream");
  REQUIRE(r.ok());
  REQUIRE(r->status == 200);
}

TEST_CASE("a serf user event runs a shoal handler, a shoal event runs a serf handler",
          "[integration][serf][event-handler]") {
  TempDir dir;
  const auto serf_script = dir.path / "serf-handler.sh";
  std::ofstream(serf_script) << "#!/bin/sh\necho \"$SERF_EVENT $SERF_USER_EVENT $(cat)\" >> "
                             << dir.file("serf-seen") << "\n";
  std::filesystem::permissions(serf_script, std::filesystem::perms::owner_all);
  auto serf = SerfProcess::start("serf-h", {"-event-handler", "user=" + serf_script.string()});
  REQUIRE(serf->wait_ready());
  auto shoal = AgentProcess::start(
      "shoal-h", {"--join", serf->gossip_addr(), "--event-handler",
                  "user=echo \"$SERF_EVENT $SHOAL_USER_EVENT $(cat) self=$SERF_SELF_NAME "
                  "role=$SERF_SELF_ROLE\" >> " + dir.file("shoal-seen"),
                  "--tag", "role=api"});
  REQUIRE(shoal->wait_healthy());
  REQUIRE(eventually([&] { return serf->members(); },
                     [](const MemberView& v) { return has_status(v, "shoal-h", "alive"); },
                     kConverge));

  REQUIRE(serf->cli("event", {"from-serf", "hello-shoal"}).exit_code == 0);
  INFO(shoal->log());
  CHECK(file_gets(dir, "shoal-seen", "user from-serf hello-shoal self=shoal-h role=api"));

  send_event(*shoal, "from-shoal", "hello-serf");
  CHECK(file_gets(dir, "serf-seen", "user from-shoal hello-serf"));
  // Each side ran its handler for its own event too, as serf does.
  CHECK(file_gets(dir, "shoal-seen", "user from-shoal hello-serf"));
  CHECK(self_stats(*shoal)["event_handler_runs"].get<uint64_t>() >= 2);
  CHECK(self_stats(*shoal)["event_handler_failures"].get<uint64_t>() == 0);
}

TEST_CASE("a serf query is answered by a shoal query handler",
          "[integration][serf][event-handler][queries]") {
  TempDir dir;
  auto serf = SerfProcess::start("serf-q");
  REQUIRE(serf->wait_ready());
  auto shoal = AgentProcess::start(
      "shoal-q", {"--join", serf->gossip_addr(), "--event-handler",
                  "query:whoami=printf '%s got %s' \"$SERF_SELF_NAME\" \"$(cat)\"",
                  "--event-handler", "query:quiet=echo to-stderr >&2"});
  REQUIRE(shoal->wait_healthy());
  REQUIRE(eventually([&] { return serf->members(); },
                     [](const MemberView& v) { return has_status(v, "shoal-q", "alive"); },
                     kConverge));
  auto r = serf->cli("query", {"-format=json", "-timeout=2s", "whoami", "ping"});
  INFO(r.out << r.err << shoal->log());
  REQUIRE(r.exit_code == 0);
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(doc.is_object());
  REQUIRE(doc["Responses"].is_object());
  CHECK(doc["Responses"].value("shoal-q", "") == "shoal-q got ping");

  // A handler that writes nothing on stdout acks but does not answer.
  auto q = serf->cli("query", {"-format=json", "-timeout=1s", "quiet", ""});
  REQUIRE(q.exit_code == 0);
  auto quiet = nlohmann::json::parse(q.out, nullptr, false);
  REQUIRE(quiet.is_object());
  CHECK_FALSE(quiet["Responses"].contains("shoal-q"));
  bool acked = false;
  for (const auto& a : quiet["Acks"]) acked = acked || a == "shoal-q";
  CHECK(acked);
}

TEST_CASE("a member-join handler sees the node that joined", "[integration][serf][event-handler]") {
  TempDir dir;
  auto shoal = AgentProcess::start(
      "shoal-j", {"--event-handler", "member-join,member-leave=echo \"== $SERF_EVENT\" >> " +
                                         dir.file("members") + "; cat >> " + dir.file("members")});
  REQUIRE(shoal->wait_healthy());
  auto serf = SerfProcess::start("serf-joiner", {"-tag", "role=db", "-tag", "zone=b",
                                                 "-join", shoal->gossip_addr()});
  REQUIRE(serf->wait_ready());
  INFO(shoal->log());
  CHECK(file_gets(dir, "members", "serf-joiner\t127.0.0.1\tdb\trole=db,zone=b\n"));
  CHECK(contains(dir.read("members"), "== member-join"));
  REQUIRE(serf->cli("leave").exit_code == 0);
  CHECK(file_gets(dir, "members", "== member-leave\nserf-joiner\t127.0.0.1\tdb"));
}

TEST_CASE("a node killed with -9 and restarted from its snapshot does not rerun old handlers",
          "[integration][event-handler][snapshot]") {
  TempDir dir;
  auto a = AgentProcess::start("alpha-h");
  REQUIRE(a->wait_healthy());
  // bravo has no --join (it joins through the API), so its restart rejoins from the snapshot.
  auto b = AgentProcess::start(
      "bravo-h",
      {"--event-handler", "user=echo \"$SERF_USER_EVENT $(cat)\" >> " + dir.file("seen")});
  REQUIRE(b->wait_healthy());
  nlohmann::json join = {{"addrs", {a->gossip_addr()}}};
  REQUIRE(b->client().call("POST", "/v1/join", {}, &join).ok());
  auto sees_alive = [](const AgentProcess& p, const std::string& name) {
    return eventually([&] { return shoal_members(p); },
                      [&](const MemberView& v) { return has_status(v, name, "alive"); },
                      kConverge);
  };
  REQUIRE(sees_alive(*a, "bravo-h"));

  send_event(*a, "before", "one", /*coalesce=*/false);
  send_event(*a, "before", "two", /*coalesce=*/false);
  REQUIRE(file_gets(dir, "seen", "before two"));
  std::this_thread::sleep_for(1500ms);  // the snapshot records the clocks every 500 ms
  b->kill9();
  b->restart();
  REQUIRE(b->wait_healthy());
  INFO(b->log());
  REQUIRE(sees_alive(*b, "alpha-h"));
  // Even a join that asks for old events to be replayed must not deliver them again.
  nlohmann::json replay = {{"addrs", {a->gossip_addr()}}, {"replay", true}};
  auto replayed = b->client().call("POST", "/v1/join", {}, &replay);
  REQUIRE(replayed.ok());
  send_event(*a, "after", "three", /*coalesce=*/false);
  REQUIRE(file_gets(dir, "seen", "after three"));
  std::this_thread::sleep_for(500ms);  // anything replayed late would show up by now
  const std::string seen = dir.read("seen");
  CHECK(count_of(seen, "before one") == 1);
  CHECK(count_of(seen, "before two") == 1);
  CHECK(count_of(seen, "after three") == 1);
}

TEST_CASE("a handler past its timeout is killed and logged while gossip goes on",
          "[integration][serf][event-handler]") {
  TempDir dir;
  auto a = AgentProcess::start(
      "shoal-t", {"--event-handler-timeout", "1500ms", "--event-handler",
                  "user:hang=echo $$ > " + dir.file("hang.pid") + "; sleep 30",
                  "--event-handler", "user:ping=cat >> " + dir.file("pings")});
  REQUIRE(a->wait_healthy());
  send_event(*a, "hang", "", /*coalesce=*/false);
  REQUIRE(file_gets(dir, "hang.pid", "\n", 5s));
  // While the hung handler runs: another handler runs, a serf agent joins and is seen.
  send_event(*a, "ping", "pong", /*coalesce=*/false);
  auto serf = SerfProcess::start("serf-t", {"-join", a->gossip_addr()});
  REQUIRE(serf->wait_ready());
  CHECK(file_gets(dir, "pings", "pong", 5s));
  CHECK(eventually([&] { return shoal_members(*a); },
                   [](const MemberView& v) { return has_status(v, "serf-t", "alive"); }, 10s));
  INFO(a->log());
  REQUIRE(eventually([&] { return a->log(); },
                     [](const std::string& log) {
                       return contains(log, "event-handler-failed script=\"echo $$ > ");
                     },
                     10s));
  const std::string log = a->log();
  CHECK(contains(log, "event=user:hang reason=\"timed out after 1500 ms; its process group "
                      "was killed\""));
  const auto stats = self_stats(*a);
  CHECK(stats["event_handler_timeouts"] == 1);
  CHECK(stats["event_handler_failures"] == 1);
  // The shell was killed with its group: the pid it wrote is gone.
  const pid_t sh = std::stoi(dir.read("hang.pid"));
  CHECK(eventually([&] { return ::kill(sh, 0) != 0; }, [](bool gone) { return gone; }, 5s));
}

}  // namespace
}  // namespace shoal::test
