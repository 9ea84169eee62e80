// Shoal and real HashiCorp serf agents (Debian's serf 0.9.4) in one cluster on loopback:
// each side must see the other's members, tags, failures and leaves.
#include <catch2/catch.hpp>

#include "tests/integration/serf_process.h"

namespace shoal::test {
namespace {

constexpr auto kConverge = 20s;
constexpr auto kDetect = 30s;  // local profile: probe 1 s, suspicion >= 3 s; slack for ASan

TEST_CASE("a shoal node joins serf agents and both sides see each other with tags",
          "[integration][serf]") {
  auto serf1 = SerfProcess::start("serf-1", {"-tag", "role=db"});
  REQUIRE(serf1->wait_ready());
  auto serf2 = SerfProcess::start("serf-2", {"-tag", "role=cache", "-join", serf1->gossip_addr()});
  REQUIRE(serf2->wait_ready());

  auto shoal = AgentProcess::start("shoal-1", {"--tag", "role=web", "--tag", "zone=a",
                                               "--join", serf1->gossip_addr()});
  REQUIRE(shoal->wait_healthy());

  CHECK(eventually([&] { return serf2->members(); },
                   [](const MemberView& v) {
                     auto it = v.find("shoal-1");
                     return it != v.end() && it->second.status == "alive" &&
                            it->second.tags == std::map<std::string, std::string>{
                                                   {"role", "web"}, {"zone", "a"}};
                   },
                   kConverge));
  CHECK(eventually([&] { return shoal_members(*shoal); },
                   [](const MemberView& v) {
                     return has_status(v, "serf-1", "alive") && has_status(v, "serf-2", "alive") &&
                            v.at("serf-1").tags.at("role") == "db" &&
                            v.at("serf-2").tags.at("role") == "cache";
                   },
                   kConverge));
}

TEST_CASE("a serf agent joins shoal nodes and both sides see each other",
          "[integration][serf]") {
  auto a = AgentProcess::start("shoal-a", {"--tag", "role=web"});
  REQUIRE(a->wait_healthy());
  auto b = AgentProcess::start("shoal-b", {"--join", a->gossip_addr()});
  REQUIRE(b->wait_healthy());
  auto serf = SerfProcess::start("serf-x", {"-tag", "role=db", "-join", b->gossip_addr()});
  REQUIRE(serf->wait_ready());

  CHECK(eventually([&] { return serf->members(); },
                   [](const MemberView& v) {
                     return has_status(v, "shoal-a", "alive") &&
                            has_status(v, "shoal-b", "alive") &&
                            v.at("shoal-a").tags.at("role") == "web";
                   },
                   kConverge));
  for (auto* agent : {a.get(), b.get()}) {
    CHECK(eventually([&] { return shoal_members(*agent); },
                     [](const MemberView& v) {
                       return has_status(v, "serf-x", "alive") && v.at("serf-x").tags.at("role") == "db";
                     },
                     kConverge));
  }
}

TEST_CASE("kill -9 on either side is seen as failed by the other", "[integration][serf]") {
  auto serf1 = SerfProcess::start("serf-k1");
  REQUIRE(serf1->wait_ready());
  auto serf2 = SerfProcess::start("serf-k2", {"-join", serf1->gossip_addr()});
  REQUIRE(serf2->wait_ready());
  auto s1 = AgentProcess::start("shoal-k1", {"--join", serf1->gossip_addr()});
  REQUIRE(s1->wait_healthy());
  auto s2 = AgentProcess::start("shoal-k2", {"--join", serf2->gossip_addr()});
  REQUIRE(s2->wait_healthy());
  REQUIRE(eventually([&] { return serf1->members(); },
                     [](const MemberView& v) {
                       return v.size() == 4 && std::all_of(v.begin(), v.end(), [](auto& m) {
                                return m.second.status == "alive";
                              });
                     },
                     kConverge));

  s2->kill9();
  CHECK(eventually([&] { return serf1->members(); },
                   [](const MemberView& v) { return has_status(v, "shoal-k2", "failed"); },
                   kDetect));
  CHECK(eventually([&] { return shoal_members(*s1); },
                   [](const MemberView& v) { return has_status(v, "shoal-k2", "failed"); },
                   kDetect));

  serf2->kill9();
  CHECK(eventually([&] { return shoal_members(*s1); },
                   [](const MemberView& v) { return has_status(v, "serf-k2", "failed"); },
                   kDetect));
  CHECK(eventually([&] { return serf1->members(); },
                   [](const MemberView& v) { return has_status(v, "serf-k2", "failed"); },
                   kDetect));
}

TEST_CASE("a graceful leave on either side is seen as left by the other",
          "[integration][serf]") {
  auto serf1 = SerfProcess::start("serf-l1");
  REQUIRE(serf1->wait_ready());
  auto serf2 = SerfProcess::start("serf-l2", {"-join", serf1->gossip_addr()});
  REQUIRE(serf2->wait_ready());
  auto s1 = AgentProcess::start("shoal-l1", {"--join", serf1->gossip_addr()});
  REQUIRE(s1->wait_healthy());
  auto s2 = AgentProcess::start("shoal-l2", {"--join", serf1->gossip_addr()});
  REQUIRE(s2->wait_healthy());
  REQUIRE(eventually([&] { return shoal_members(*s1); },
                     [](const MemberView& v) { return v.size() == 4; }, kConverge));

  REQUIRE(s2->terminate() == 0);  // SIGTERM: graceful leave, then exit 0
  CHECK(eventually([&] { return serf1->members(); },
                   [](const MemberView& v) { return has_status(v, "shoal-l2", "left"); },
                   kConverge));

  REQUIRE(serf2->cli("leave").exit_code == 0);
  CHECK(eventually([&] { return shoal_members(*s1); },
                   [](const MemberView& v) { return has_status(v, "serf-l2", "left"); },
                   kConverge));
}

TEST_CASE("tag changes propagate from shoal to serf and from serf to shoal",
          "[integration][serf]") {
  auto serf = SerfProcess::start("serf-t", {"-tag", "role=db"});
  REQUIRE(serf->wait_ready());
  auto shoal = AgentProcess::start("shoal-t", {"--tag", "role=web", "--join", serf->gossip_addr()});
  REQUIRE(shoal->wait_healthy());
  REQUIRE(eventually([&] { return serf->members(); },
                     [](const MemberView& v) { return has_status(v, "shoal-t", "alive"); },
                     kConverge));

  const nlohmann::json body = {{"set", {{"version", "2"}}}, {"delete", {"role"}}};
  auto r = shoal->client().call("PUT", "/v1/agent/tags", {}, &body);
  REQUIRE(r.ok());
  CHECK(eventually([&] { return serf->members(); },
                   [](const MemberView& v) {
                     return v.count("shoal-t") &&
                            v.at("shoal-t").tags == std::map<std::string, std::string>{{"version", "2"}};
                   },
                   kConverge));

  REQUIRE(serf->cli("tags", {"-set", "role=primary", "-set", "dc=east"}).exit_code == 0);
  CHECK(eventually([&] { return shoal_members(*shoal); },
                   [](const MemberView& v) {
                     return v.count("serf-t") && v.at("serf-t").tags.count("dc") &&
                            v.at("serf-t").tags.at("role") == "primary";
                   },
                   kConverge));
}

}  // namespace
}  // namespace shoal::test
