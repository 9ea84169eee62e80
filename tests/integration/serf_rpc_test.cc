// The stock `serf` CLI (Debian's serf 0.9.4) driving a Shoal agent through --rpc-serf,
// beside real serf agents: the same commands give the same results against either.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/serf_process.h"
#include "tests/support/serf_rpc_client.h"

namespace shoal::test {
namespace {

constexpr auto kConverge = 20s;
constexpr auto kDetect = 30s;
constexpr auto kDeliver = 15s;

struct ShoalWithRpc {
  int rpc_port = free_loopback_port();
  std::unique_ptr<AgentProcess> agent;

  ShoalWithRpc(const std::string& name, std::vector<std::string> args) {
    args.insert(args.end(), {"--rpc-serf", rpc_addr()});
    agent = AgentProcess::start(name, std::move(args));
    REQUIRE(agent->wait_healthy());
  }
  std::string rpc_addr() const { return "127.0.0.1:" + std::to_string(rpc_port); }
  CommandResult cli(const std::string& sub, std::vector<std::string> args = {}) const {
    return serf_cli(rpc_addr(), sub, std::move(args));
  }
};

// The lines of a listing, sorted; a last column of k=v tags has its tags sorted too (serf
// prints them in Go's random map order).
std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto space = line.find_last_of(' ');
    const std::string last = space == std::string::npos ? line : line.substr(space + 1);
    if (last.find('=') != std::string::npos && last.find(',') != std::string::npos) {
      std::vector<std::string> tags;
      std::istringstream parts(last);
      for (std::string t; std::getline(parts, t, ',');) tags.push_back(t);
      std::sort(tags.begin(), tags.end());
      std::string joined;
      for (const auto& t : tags) joined += (joined.empty() ? "" : ",") + t;
      line = line.substr(0, space + 1) + joined;
    }
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

nlohmann::json members_json(const CommandResult& r) {
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  if (doc.is_discarded() || !doc.contains("members")) return nlohmann::json::array();
  auto list = doc["members"];
  std::sort(list.begin(), list.end(),
            [](const auto& a, const auto& b) { return a["name"] < b["name"]; });
  return list;
}

TEST_CASE("serf members against a shoal agent prints what it prints against a serf agent",
          "[integration][serf][serf_rpc]") {
  auto serf = SerfProcess::start("serf-m", {"-tag", "role=db"});
  REQUIRE(serf->wait_ready());
  ShoalWithRpc shoal("shoal-m", {"--tag", "role=web", "--join", serf->gossip_addr()});
  // Alive, and with the tags its apps layer sets once it runs (they change the listing).
  REQUIRE(eventually([&] { return serf->members(); },
                     [](const MemberView& v) {
                       return has_status(v, "shoal-m", "alive") &&
                              v.at("shoal-m").shoal_tags.count("mem") != 0;
                     },
                     kConverge));
  REQUIRE(eventually([&] { return shoal.cli("members").out; },
                     [](const std::string& out) { return out.find("serf-m") != std::string::npos; },
                     kConverge));

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{}, {"-status=alive"}, {"-status=failed|left"},
        {"-tag", "role=web"}, {"-tag", "role=d.*"}, {"-name", "shoal-.*"}}) {
    auto ours = shoal.cli("members", args);
    auto theirs = serf->cli("members", args);
    INFO("args: " << nlohmann::json(args).dump() << "\nshoal:\n" << ours.out << ours.err
                  << "\nserf:\n" << theirs.out << theirs.err);
    CHECK(ours.exit_code == theirs.exit_code);
    CHECK(sorted_lines(ours.out) == sorted_lines(theirs.out));
  }
  auto ours = members_json(shoal.cli("members", {"-format=json"}));
  auto theirs = members_json(serf->cli("members", {"-format=json"}));
  CHECK(ours.size() == 2);
  CHECK(ours == theirs);

  auto info = shoal.cli("info");
  CHECK(info.exit_code == 0);
  CHECK_THAT(info.out, Catch::Contains("name = shoal-m") && Catch::Contains("members = 2"));
}

TEST_CASE("serf event and query through a shoal agent reach shoal and serf nodes",
          "[integration][serf][serf_rpc]") {
  const auto dir = make_temp_dir("serf-rpc-q");
  const auto seen = dir / "seen.txt";
  const auto handler = dir / "handler.sh";
  {
    std::ofstream f(handler);
    f << "#!/bin/sh\npayload=$(cat)\n"
      << "if [ \"$SERF_EVENT\" = query ]; then printf 'pong from %s' \"$SERF_SELF_NAME\";\n"
      << "else echo \"$SERF_EVENT $SERF_USER_EVENT $payload\" >> " << seen.string() << "; fi\n";
  }
  std::filesystem::permissions(handler, std::filesystem::perms::owner_all);
  auto serf = SerfProcess::start("serf-q", {"-event-handler", handler.string()});
  REQUIRE(serf->wait_ready());
  ShoalWithRpc shoal("shoal-q", {"--join", serf->gossip_addr()});
  REQUIRE(eventually([&] { return serf->members(); },
                     [](const MemberView& v) { return has_status(v, "shoal-q", "alive"); },
                     kConverge));

  // The shoal node answers `ping` through a Serf RPC client of its own: stream + respond.
  std::atomic<bool> stop{false}, ready{false};
  std::atomic<int> answered{0};
  std::thread responder([&] {
    auto c = RawSerfRpc::connect(shoal.rpc_port);
    if (!c) return;
    c->request("handshake", 1, rpc_body({}, {{"Version", 1}}));
    if (!c->read_header()) return;
    c->request("stream", 2, rpc_body({{"Type", "query:ping"}}));
    auto h = c->read_header();
    if (!h || !h->error.empty()) return;
    ready = true;
    uint64_t seq = 10;
    const auto deadline = std::chrono::steady_clock::now() + 40s;
    while (!stop && std::chrono::steady_clock::now() < deadline) {
      auto hdr = c->read_header(200ms);
      if (!hdr || hdr->seq != 2) continue;  // respond's answers carry no body
      auto rec = c->read_value();
      if (!rec) break;
      gossip::MsgpackReader r(*rec);
      uint64_t id = 0;
      (void)gossip::read_struct(r, "queryEventRecord", [&](std::string_view k) {
        return k == "ID" ? gossip::read_value(r, id) : r.skip();
      });
      c->request("respond", ++seq, rpc_body({{"Payload", "pong from shoal"}}, {{"ID", id}}));
      ++answered;
    }
  });
  REQUIRE(eventually([&] { return ready.load(); }, [](bool b) { return b; }, 10s));

  auto responses = [](const CommandResult& r) {
    std::map<std::string, std::string> out;
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    if (doc.is_object() && doc.contains("Responses")) {
      for (auto it = doc["Responses"].begin(); it != doc["Responses"].end(); ++it) {
        out[it.key()] = it.value().get<std::string>();
      }
    }
    return out;
  };
  const std::map<std::string, std::string> expected = {{"serf-q", "pong from serf-q"},
                                                       {"shoal-q", "pong from shoal"}};
  auto ours = shoal.cli("query", {"-format=json", "-timeout=3s", "ping", "x"});
  INFO(ours.out << ours.err);
  CHECK(ours.exit_code == 0);
  CHECK(responses(ours) == expected);
  auto theirs = serf->cli("query", {"-format=json", "-timeout=3s", "ping", "x"});
  CHECK(responses(theirs) == expected);
  CHECK(shoal.cli("query", {"_serf_list-keys"}).exit_code != 0);  // refused, as serf does
  stop = true;
  responder.join();
  CHECK(answered >= 2);

  auto sent = shoal.cli("event", {"deploy", "v2"});
  CHECK(sent.exit_code == 0);
  CHECK_THAT(sent.out, Catch::Contains("Event 'deploy' dispatched"));
  CHECK(eventually([&] { return read_file(seen); },
                   [](const std::string& s) { return s.find("user deploy v2") != std::string::npos; },
                   kDeliver));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("serf monitor against a shoal agent prints its log lines and events",
          "[integration][serf][serf_rpc]") {
  ShoalWithRpc shoal("shoal-mon", {});
  const auto dir = make_temp_dir("serf-monitor");
  const pid_t monitor = spawn({serf_binary(), "monitor", "-rpc-addr=" + shoal.rpc_addr(),
                               "-log-level=info"},
                              dir / "out", dir / "out");
  // The monitor is connected once the agent logs its request.
  REQUIRE(eventually([&] { return shoal.agent->log(); },
                     [](const std::string& l) { return l.find("command=monitor") != std::string::npos; },
                     10s));
  REQUIRE(shoal.cli("event", {"hello-monitor", "x"}).exit_code == 0);
  const bool printed = eventually([&] { return read_file(dir / "out"); },
                                  [](const std::string& s) {
                                    return s.find("user-event name=hello-monitor") != std::string::npos &&
                                           s.find("Name: \"hello-monitor\"") != std::string::npos;
                                  },
                                  10s);
  ::kill(monitor, SIGKILL);
  wait_exit(monitor, 5s);
  INFO(read_file(dir / "out"));
  CHECK(printed);
  // A debug line is below the monitor's level: not printed.
  CHECK(read_file(dir / "out").find(" debug ") == std::string::npos);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("serf join, tags, force-leave and leave drive a shoal agent",
          "[integration][serf][serf_rpc]") {
  auto serf = SerfProcess::start("serf-j");
  REQUIRE(serf->wait_ready());
  ShoalWithRpc a("shoal-ja", {"--tag", "role=web"});
  auto b = AgentProcess::start("shoal-jb", {"--join", serf->gossip_addr()});
  REQUIRE(b->wait_healthy());

  auto joined = a.cli("join", {serf->gossip_addr()});
  INFO(joined.out << joined.err);
  CHECK(joined.exit_code == 0);
  CHECK_THAT(joined.out, Catch::Contains("Successfully joined cluster by contacting 1 nodes."));
  auto nowhere = a.cli("join", {"127.0.0.1:" + std::to_string(free_loopback_port())});
  CHECK(nowhere.exit_code == 1);
  CHECK_THAT(nowhere.err + nowhere.out, Catch::Contains("Error joining the cluster"));
  REQUIRE(eventually([&] { return serf->members(); },
                     [](const MemberView& v) {
                       return has_status(v, "shoal-ja", "alive") && has_status(v, "shoal-jb", "alive");
                     },
                     kConverge));

  auto tagged = a.cli("tags", {"-set", "zone=b", "-delete", "role"});
  CHECK(tagged.exit_code == 0);
  CHECK_THAT(tagged.out, Catch::Contains("Successfully updated agent tags"));
  CHECK(eventually([&] { return serf->members(); },
                   [](const MemberView& v) {
                     return v.count("shoal-ja") &&
                            v.at("shoal-ja").tags == std::map<std::string, std::string>{{"zone", "b"}};
                   },
                   kConverge));

  b->kill9();
  REQUIRE(eventually([&] { return a.cli("members", {"-status=failed"}).out; },
                     [](const std::string& s) { return s.find("shoal-jb") != std::string::npos; },
                     kDetect));
  auto forced = a.cli("force-leave", {"shoal-jb"});
  CHECK(forced.exit_code == 0);
  CHECK(eventually([&] { return a.cli("members", {"-status=left"}).out; },
                   [](const std::string& s) { return s.find("shoal-jb") != std::string::npos; },
                   kConverge));

  auto left = a.cli("leave");
  CHECK(left.exit_code == 0);
  CHECK_THAT(left.out, Catch::Contains("Graceful leave complete"));
  CHECK(a.agent->wait_for_exit(20s) == 0);
  CHECK(eventually([&] { return serf->members(); },
                   [](const MemberView& v) { return has_status(v, "shoal-ja", "left"); },
                   kConverge));
}

TEST_CASE("the serf rpc asks for the auth key and survives broken clients",
          "[integration][serf][serf_rpc]") {
  ShoalWithRpc shoal("shoal-auth", {"--rpc-serf-auth", "s3cret"});

  auto none = shoal.cli("members");
  CHECK(none.exit_code == 1);
  CHECK_THAT(none.err + none.out, Catch::Contains("Authentication required"));
  auto wrong = shoal.cli("members", {"-rpc-auth=nope"});
  CHECK(wrong.exit_code == 1);
  CHECK_THAT(wrong.err + wrong.out, Catch::Contains("Invalid authentication token"));
  auto right = shoal.cli("members", {"-rpc-auth=s3cret"});
  CHECK(right.exit_code == 0);
  CHECK_THAT(right.out, Catch::Contains("shoal-auth"));

  SECTION("garbage closes the connection") {
    auto c = RawSerfRpc::connect(shoal.rpc_port);
    REQUIRE(c);
    const uint8_t junk[] = {0xc1, 0xff, 0x00, 0x13};
    c->send(ByteView(junk, sizeof junk));
    CHECK(c->closed_by_peer());
  }
  SECTION("a command before the handshake gets serf's error, then the connection closes") {
    auto c = RawSerfRpc::connect(shoal.rpc_port);
    REQUIRE(c);
    c->request("members", 1);
    auto h = c->read_header();
    REQUIRE(h);
    CHECK(h->error == "Handshake required");
    CHECK(c->closed_by_peer());
  }
  SECTION("an unknown command gets 'Unsupported command', then the connection closes") {
    auto c = RawSerfRpc::connect(shoal.rpc_port);
    REQUIRE(c);
    c->request("handshake", 1, rpc_body({}, {{"Version", 1}}));
    REQUIRE(c->read_header());
    c->request("auth", 2, rpc_body({{"AuthKey", "s3cret"}}));
    auto authed = c->read_header();
    REQUIRE(authed);
    CHECK(authed->error.empty());
    c->request("launch-missiles", 3, rpc_body({}));
    auto h = c->read_header();
    REQUIRE(h);
    CHECK(h->seq == 3);
    CHECK(h->error == "Unsupported command");
    CHECK(c->closed_by_peer());
  }
  SECTION("a second handshake and a bad stream filter get serf's errors") {
    auto c = RawSerfRpc::connect(shoal.rpc_port);
    REQUIRE(c);
    c->request("handshake", 1, rpc_body({}, {{"Version", 1}}));
    REQUIRE(c->read_header());
    c->request("handshake", 2, rpc_body({}, {{"Version", 1}}));  // allowed before auth
    auto dup = c->read_header();
    REQUIRE(dup);
    CHECK(dup->error == "Handshake already performed");
    c->request("stats", 3);
    auto unauthed = c->read_header();
    REQUIRE(unauthed);
    CHECK(unauthed->error == "Authentication required");  // no body follows, as in serf
    c->request("auth", 4, rpc_body({{"AuthKey", "s3cret"}}));
    REQUIRE(c->read_header());
    c->request("stream", 5, rpc_body({{"Type", "member-explode"}}));
    auto bad = c->read_header();
    REQUIRE(bad);
    CHECK(bad->error == "Invalid event filter");
  }
  // None of it hurt the agent.
  CHECK(shoal.agent->wait_healthy(5s));
  CHECK(shoal.cli("members", {"-rpc-auth=s3cret"}).exit_code == 0);
}

TEST_CASE("serf keys against a shoal agent lists and rotates the mixed cluster's keys",
          "[integration][serf][serf_rpc]") {
  auto keygen = [] {
    auto r = run_command_argv({serf_binary(), "keygen"});
    std::string k = r.out;
    while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
    return k;
  };
  const std::string primary = keygen();
  const std::string second = keygen();
  REQUIRE(primary.size() == 44);
  auto serf = SerfProcess::start("serf-k", {"-encrypt", primary});
  REQUIRE(serf->wait_ready());
  ShoalWithRpc shoal("shoal-k", {"--encrypt", primary, "--join", serf->gossip_addr()});
  REQUIRE(eventually([&] { return serf->members(); },
                     [](const MemberView& v) { return has_status(v, "shoal-k", "alive"); },
                     kConverge));

  auto ours = until_ok([&] { return shoal.cli("keys", {"-list"}); });
  INFO(ours.out << ours.err);
  CHECK(ours.exit_code == 0);
  CHECK_THAT(ours.out, Catch::Contains(primary) && Catch::Contains("[2/2]"));
  auto theirs = until_ok([&] { return serf->cli("keys", {"-list"}); });
  CHECK(sorted_lines(ours.out) == sorted_lines(theirs.out));

  auto step = [&](const std::string& flag, const std::string& key) {
    auto r = until_ok([&] { return shoal.cli("keys", {flag, key}); });
    INFO(flag << ": " << r.out << r.err);
    CHECK(r.exit_code == 0);
    return r;
  };
  CHECK_THAT(step("-install", second).out, Catch::Contains("Successfully installed key"));
  step("-use", second);
  step("-remove", primary);
  auto after = until_ok([&] { return serf->cli("keys", {"-list"}); });
  CHECK_THAT(after.out, Catch::Contains(second) && Catch::Contains("[2/2]"));
  CHECK(after.out.find(primary) == std::string::npos);
  auto bad = shoal.cli("keys", {"-install", "not-base64!"});
  CHECK(bad.exit_code == 1);
}

}  // namespace
}  // namespace shoal::test
