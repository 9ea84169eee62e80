// Real agents on loopback hosting Raft groups: three agents with 50 groups each, a write
// load through the kv test state machine (PUT /v1/raft/groups/ID/kv/KEY), kill -9 of a
// leader's process mid-load, and its restart catching up by snapshot. Every write that was
// acknowledged must be readable afterwards.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/support/process.h"

namespace shoal::test {
namespace {

using nlohmann::json;

constexpr int kGroups = 50;
const std::vector<std::string> kNames = {"r0", "r1", "r2"};

struct Cluster {
  std::vector<std::unique_ptr<AgentProcess>> agents;

  Cluster() {
    const std::vector<std::string> common = {"--log-level", "info", "--raft-snapshot-entries", "100"};
    agents.push_back(AgentProcess::start(kNames[0], common));
    REQUIRE(agents[0]->wait_healthy());
    for (size_t i = 1; i < kNames.size(); ++i) {
      auto args = common;
      args.insert(args.end(), {"--join", agents[0]->gossip_addr()});
      agents.push_back(AgentProcess::start(kNames[i], args));
    }
    for (auto& a : agents) REQUIRE(a->wait_healthy());
    // Raft peers learn each other's --rpc address from gossip.
    for (auto& a : agents) {
      REQUIRE(wait_for(20s, [&] {
        auto m = a->client(2s).call("GET", "/v1/members");
        return m.ok() && m->at("members").size() == kNames.size();
      }));
    }
  }

  template <typename F>
  static bool wait_for(std::chrono::milliseconds limit, F ok) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ok()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  AgentProcess* by_name(const std::string& name) {
    for (auto& a : agents) {
      if (a->name() == name) return a.get();
    }
    return nullptr;
  }

  // Asks every running agent; the leader is whoever says it leads.
  std::optional<std::string> leader(int group) {
    for (auto& a : agents) {
      if (!a->running()) continue;
      auto s = a->client(1s).call("GET", "/v1/raft/groups/" + std::to_string(group));
      if (s.ok() && s->value("role", "") == "leader") return a->name();
    }
    return std::nullopt;
  }

  int leaders_total() {
    int n = 0;
    for (auto& a : agents) {
      if (!a->running()) continue;
      auto list = a->client(2s).call("GET", "/v1/raft/groups");
      if (!list.ok()) continue;
      // The test's groups only: the agents also host the apps layer's catalog group.
      for (const auto& g : list->at("groups")) {
        if (g.value("id", uint64_t{0}) <= kGroups) n += g.value("role", "") == "leader" ? 1 : 0;
      }
    }
    return n;
  }
};

TEST_CASE("raft: 3 agents x 50 groups, kill -9 of a leader loses no acknowledged write",
          "[integration][raft]") {
  Cluster c;
  for (int g = 1; g <= kGroups; ++g) {
    json body = {{"id", g}, {"voters", kNames}};
    for (auto& a : c.agents) REQUIRE(a->client(5s).call("POST", "/v1/raft/groups", {}, &body).ok());
  }
  REQUIRE(Cluster::wait_for(30s, [&] { return c.leaders_total() == kGroups; }));

  // Writers: one per group 1..4, each retrying a key until acknowledged, then the next.
  std::mutex mu;
  std::vector<std::tuple<int, std::string, std::string>> acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int g = 1; g <= 4; ++g) {
    writers.emplace_back([&, g] {
      std::string leader;
      for (int i = 0; !stop; ++i) {
        const std::string key = "g" + std::to_string(g) + "-" + std::to_string(i);
        const std::string value = std::string(200, static_cast<char>('a' + i % 26)) + key;
        for (int attempt = 0; !stop; ++attempt) {
          if (leader.empty()) {
            auto l = c.leader(g);
            if (!l) {
              std::this_thread::sleep_for(20ms);
              continue;
            }
            leader = *l;
          }
          AgentProcess* a = c.by_name(leader);
          auto r = a->client(3s).send("PUT", "/v1/raft/groups/" + std::to_string(g) + "/kv/" + key,
                                      value, "application/octet-stream");
          if (r.ok() && r->status == 200) {
            std::lock_guard lock(mu);
            acked.emplace_back(g, key, value);
            break;
          }
          leader.clear();  // not the leader any more, or gone: find it again
        }
      }
    });
  }
  std::this_thread::sleep_for(1500ms);
  const auto victim_name = c.leader(1);
  REQUIRE(victim_name);
  AgentProcess* victim = c.by_name(*victim_name);
  size_t acked_before_kill = 0;
  {
    std::lock_guard lock(mu);
    acked_before_kill = acked.size();
  }
  // Group 1's commit index when the victim went down: its log ends no later than that.
  uint64_t commit_at_kill = 0;
  if (auto s = victim->client(2s).call("GET", "/v1/raft/groups/1"); s.ok()) {
    commit_at_kill = s->value("commit", uint64_t{0});
  }
  victim->kill9();
  // Keep writing until the new leader of group 1 has compacted its log past everything the
  // victim has, so the victim can only catch up by snapshot (bounded: 60 s).
  const bool compacted = Cluster::wait_for(60s, [&] {
    auto l = c.leader(1);
    if (!l) return false;
    auto s = c.by_name(*l)->client(2s).call("GET", "/v1/raft/groups/1");
    return s.ok() && s->at("snapshot").value("index", uint64_t{0}) > commit_at_kill;
  });
  stop = true;
  for (auto& t : writers) t.join();
  INFO("acknowledged writes: " << acked.size() << ", before the kill: " << acked_before_kill
                               << ", group 1 commit at the kill: " << commit_at_kill);
  REQUIRE(compacted);
  REQUIRE(acked_before_kill > 0);
  REQUIRE(acked.size() > acked_before_kill);  // the survivors kept taking writes

  // The restarted node catches up; group 1's leader no longer has the entries it lacks.
  victim->restart();
  REQUIRE(victim->wait_healthy());
  REQUIRE(Cluster::wait_for(30s, [&] {
    auto l = c.leader(1);
    if (!l) return false;
    auto ls = c.by_name(*l)->client(2s).call("GET", "/v1/raft/groups/1");
    auto vs = victim->client(2s).call("GET", "/v1/raft/groups/1");
    return ls.ok() && vs.ok() && vs->value("applied", 0) >= ls->value("commit", 0);
  }));
  auto counters = victim->client(2s).call("GET", "/v1/raft/groups");
  REQUIRE(counters.ok());
  CHECK(counters->at("counters").value("snapshots_installed", 0) >= 1);

  // Every acknowledged write is there, read linearizably from each group's leader.
  size_t missing = 0;
  for (const auto& [g, key, value] : acked) {
    auto l = c.leader(g);
    REQUIRE(l);
    auto r = c.by_name(*l)->client(3s).send("GET", "/v1/raft/groups/" + std::to_string(g) + "/kv/" + key);
    if (!r.ok() || r->status != 200 || r->body != value) ++missing;
  }
  CHECK(missing == 0);
}

}  // namespace
}  // namespace shoal::test
