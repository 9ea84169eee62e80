// A real Prometheus scrapes a 3-node cluster's /metrics (issue 11): every node's exposition
// passes promtool's lint, and PromQL over the three answers for gossip, Raft, instances and
// the router at once.
#include <catch2/catch.hpp>

#include "tests/integration/apps_cluster.h"
#include "tests/integration/prometheus_process.h"
#include "tests/support/process.h"

namespace shoal::test {
namespace {

// Checks that the query comes to yield one sample equal to `want`, showing its last answer
// when it does not.
void check_query(PrometheusProcess& prom, const std::string& promql, double want) {
  std::string last;
  const bool reached = wait_for(60s, [&] {
    auto v = prom.scalar(promql, &last);
    return v && *v == want;
  });
  INFO(promql << " wants " << want << "; last answer: " << last);
  CHECK(reached);
}

}  // namespace

TEST_CASE("prometheus: a real Prometheus scrapes three nodes and answers PromQL about them",
          "[integration][metrics]") {
  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];

  // Every node's exposition is valid Prometheus text, by Prometheus's own linter.
  for (auto& a : c.agents) {
    auto text = a->client(5s).send("GET", "/metrics");
    REQUIRE(text.ok());
    const std::filesystem::path file = c.scratch / (a->name() + ".metrics");
    std::ofstream(file) << text->body;
    auto lint = run_command_argv({"/bin/sh", "-c", find_program("promtool") +
                                                       " check metrics < " + file.string()});
    INFO(a->name() << ": " << lint.out << lint.err);
    CHECK(lint.exit_code == 0);
  }

  // Instances and traffic, so the app and router families have series.
  auto dep = c.cli(n0, {"deploy", (source_dir() / "examples/python-web").string(), "--app", "pmweb"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  REQUIRE(wait_for(30s, [&] { return running(c.ps(n0, "pmweb")).size() == 2; }));
  REQUIRE(wait_for(30s, [&] {
    node::HttpExchange ex;
    ex.timeout = 5s;
    ex.headers.emplace("Host", "pmweb.localhost");
    auto r = node::http_request("127.0.0.1", n0.router_port(), ex);
    return r.ok() && r->status == 200;
  }));
  for (int i = 0; i < 9; ++i) {
    node::HttpExchange ex;
    ex.timeout = 5s;
    ex.headers.emplace("Host", "pmweb.localhost");
    REQUIRE(node::http_request("127.0.0.1", n0.router_port(), ex).ok());
  }

  std::vector<std::string> targets;
  for (auto& a : c.agents) targets.push_back(a->http_addr());
  auto prom = PrometheusProcess::start(targets);
  REQUIRE(prom->wait_ready(30s));
  INFO("prometheus log: " << prom->log());

  // All three targets up, each seeing all three members alive.
  check_query(*prom, R"(count(up{job="shoal"} == 1))", 3);
  check_query(*prom, R"(sum(shoal_gossip_members{status="alive"}))", 9);
  check_query(*prom, R"(count(shoal_node_info))", 3);
  // One catalog leader in the whole cluster, and its log synced to disk.
  check_query(*prom, R"(sum(shoal_raft_leader{kind="catalog"}))", 1);
  check_query(*prom, R"(count(sum by (instance) (shoal_raft_fsync_seconds_count) > 0))", 3);
  // The app's two instances, wherever they run, running and using memory.
  check_query(*prom, R"(sum(shoal_instances{app="pmweb",state="running"}))", 2);
  check_query(*prom, R"(count(shoal_instance_memory_bytes{app="pmweb"} > 0))", 2);
  // The requests n0's router answered: at least the ten above, each under 10 s.
  check_query(*prom, R"(sum(shoal_router_requests_total{app="pmweb",code="200"}) >= bool 10)",
              1);
  check_query(*prom,
              R"(sum(shoal_router_request_duration_seconds_bucket{app="pmweb",le="10"}) >= bool 10)",
              1);
  // The app's own metrics (its manifest names /metrics), scraped by the nodes that run it
  // and labelled with app, release and instance: the same ten requests, counted by the app.
  check_query(*prom, R"(count(shoal_app_metrics_up{app="pmweb",release="1"} == 1))", 2);
  check_query(*prom, R"(sum(hello_requests_total{app="pmweb"}) >= bool 10)", 1);
  check_query(*prom, R"(count(count by (instance) (hello_info{app="pmweb"})))", 2);
}

}  // namespace shoal::test
