// Tests of node/node_metrics: gossip, Raft and instance families built from the agent's own
// counters, rendered as /metrics shows them.
#include "node/node_metrics.h"

#include <catch2/catch.hpp>

#include "node/apps/group_ids.h"

using namespace shoal;
using namespace shoal::node;

namespace {

std::string render(std::vector<metrics::CollectedFamily> families) {
  metrics::Registry r;
  r.add_collector([&] { return families; });
  return r.render();
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

gossip::Member member(std::string name, gossip::MemberStatus status) {
  gossip::Member m;
  m.name = std::move(name);
  m.status = status;
  return m;
}

}  // namespace

TEST_CASE("node metrics: gossip members by status, every status present, and counters",
          "[node][metrics]") {
  SelfInfo self;
  self.member.name = "n1";
  self.stats.memberlist.probes = 40;
  self.stats.memberlist.probe_failures = 2;
  self.stats.memberlist.drop_reasons["bad checksum"] = 3;
  self.stats.health_score = 1;
  const std::string text =
      render(gossip_families(self, {member("n1", gossip::MemberStatus::alive),
                                    member("n2", gossip::MemberStatus::alive),
                                    member("n3", gossip::MemberStatus::failed)}));
  CHECK(has(text, R"(shoal_gossip_members{status="alive"} 2)"));
  CHECK(has(text, R"(shoal_gossip_members{status="failed"} 1)"));
  CHECK(has(text, R"(shoal_gossip_members{status="left"} 0)"));
  CHECK(has(text, R"(shoal_gossip_members{status="leaving"} 0)"));
  CHECK(has(text, "shoal_gossip_probes_total 40"));
  CHECK(has(text, "shoal_gossip_probe_failures_total 2"));
  CHECK(has(text, R"(shoal_gossip_dropped_total{reason="bad checksum"} 3)"));
  CHECK(has(text, "shoal_gossip_health_score 1"));
  CHECK(text.find("shoal_node_info{node=\"n1\",version=") != std::string::npos);
}

TEST_CASE("node metrics: Raft groups by id and kind, lags from the leader's view",
          "[node][metrics]") {
  RaftServiceStats stats;
  stats.host.syncs = 9;
  stats.bad_frames = 1;
  raft::GroupStatus catalog;
  catalog.group = apps::kCatalogGroup;
  catalog.core.id = "n1";
  catalog.core.role = raft::Role::leader;
  catalog.core.term = 4;
  catalog.core.last_index = 20;
  catalog.core.commit = 18;
  catalog.core.applied = 17;
  catalog.proposals = 11;
  catalog.core.peers = {{"n1", true, 20, 21, {}, true}, {"n2", true, 15, 16, {}, true}};
  raft::GroupStatus app;
  app.group = apps::app_group(3);
  app.core.role = raft::Role::follower;
  app.core.term = 2;
  app.core.last_index = app.core.commit = app.core.applied = 5;
  const std::string text = render(raft_families(stats, {catalog, app}));
  const std::string c = std::to_string(apps::kCatalogGroup);
  const std::string a = std::to_string(apps::app_group(3));
  CHECK(has(text, "shoal_raft_groups 2"));
  CHECK(has(text, "shoal_raft_syncs_total 9"));
  CHECK(has(text, R"(shoal_raft_rejected_total{reason="bad frame"} 1)"));
  CHECK(has(text, "shoal_raft_term{group=\"" + c + "\",kind=\"catalog\"} 4"));
  CHECK(has(text, "shoal_raft_leader{group=\"" + c + "\",kind=\"catalog\"} 1"));
  CHECK(has(text, "shoal_raft_leader{group=\"" + a + "\",kind=\"app\"} 0"));
  CHECK(has(text, "shoal_raft_commit_lag{group=\"" + c + "\",kind=\"catalog\"} 2"));
  CHECK(has(text, "shoal_raft_apply_lag{group=\"" + c + "\",kind=\"catalog\"} 1"));
  CHECK(has(text, "shoal_raft_proposals_total{group=\"" + c + "\",kind=\"catalog\"} 11"));
  CHECK(has(text,
            "shoal_raft_follower_lag{group=\"" + c + "\",kind=\"catalog\",peer=\"n2\"} 5"));
  CHECK(text.find("peer=\"n1\"") == std::string::npos);  // not itself
  CHECK(text.find("shoal_raft_follower_lag{group=\"" + a) == std::string::npos);
}

TEST_CASE("node metrics: instances by state, and use only where it was sampled",
          "[node][metrics]") {
  supervisor::InstanceStatus web1;
  web1.id = "web.1";
  web1.type = "web";
  web1.state = supervisor::InstanceState::running;
  web1.restarts = 2;
  supervisor::ResourceUsage u;
  u.cpu_millis = 500;
  u.cpu_percent = 50;
  u.memory_bytes = 1 << 20;
  u.rss_bytes = 4096;
  web1.usage = u;
  supervisor::InstanceStatus web2 = web1;
  web2.id = "web.2";
  web2.state = supervisor::InstanceState::backoff;
  web2.usage.reset();
  const std::string text = render(instance_families({{"blog", {web1, web2}}}));
  CHECK(has(text, R"(shoal_instances{app="blog",state="running"} 1)"));
  CHECK(has(text, R"(shoal_instances{app="blog",state="backoff"} 1)"));
  CHECK(has(text, R"(shoal_instance_restarts_total{app="blog",instance="web.2",type="web"} 2)"));
  CHECK(has(text, R"(shoal_instance_cpu_cores{app="blog",instance="web.1",type="web"} 0.5)"));
  CHECK(has(text,
            R"(shoal_instance_cpu_limit_ratio{app="blog",instance="web.1",type="web"} 0.5)"));
  CHECK(has(text,
            R"(shoal_instance_memory_bytes{app="blog",instance="web.1",type="web"} 1048576)"));
  CHECK(text.find(R"(shoal_instance_memory_bytes{app="blog",instance="web.2")") ==
        std::string::npos);
}
