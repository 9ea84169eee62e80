// Logs across the cluster (issue 11, point 4): an app's lines filtered by time and text, the
// agents' own logs from every node or one, and a follow that picks up instances placed on
// nodes it was not reading when it began.
#include <catch2/catch.hpp>

#include <csignal>

#include "tests/integration/apps_cluster.h"
#include "tests/support/process.h"

namespace shoal::test {
namespace {

void request(AgentProcess& via, const std::string& path) {
  node::HttpExchange ex;
  ex.target = path;
  ex.timeout = 5s;
  ex.headers.emplace("Host", "lg.localhost");
  auto r = node::http_request("127.0.0.1", via.router_port(), ex);
  REQUIRE(r.ok());
  CHECK(r->status == 200);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    if (nl > at) out.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("logs: --grep and --since filter an app's lines, --system shows the agents' own, and "
          "a follow picks up instances on new nodes",
          "[integration][logs]") {
  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];
  AgentProcess& n2 = *c.agents[2];
  const fs::path app = c.scratch / "lg";
  fs::copy(source_dir() / "examples/python-web", app, fs::copy_options::recursive);
  std::ofstream(app / "shoal.toml", std::ios::trunc) << "[formation]\nweb = 1\n";
  auto dep = c.cli(n0, {"deploy", app.string(), "--app", "lg"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  REQUIRE(wait_for(30s, [&] { return running(c.ps(n0, "lg")).size() == 1; }));
  REQUIRE(wait_for(30s, [&] {
    node::HttpExchange ex;
    ex.timeout = 5s;
    ex.headers.emplace("Host", "lg.localhost");
    auto r = node::http_request("127.0.0.1", n0.router_port(), ex);
    return r.ok() && r->status == 200;
  }));
  for (int i = 0; i < 3; ++i) request(n0, "/needle-" + std::to_string(i));
  request(n0, "/other");

  // 1. --grep: only the lines that contain the text, from any node.
  CommandResult grep;
  REQUIRE(wait_for(20s, [&] {
    grep = c.cli(n2, {"logs", "lg", "--grep", "/needle-", "-n", "100"});
    return grep.exit_code == 0 && lines_of(grep.out).size() == 3;
  }));
  INFO(grep.out << grep.err);
  for (const auto& l : lines_of(grep.out)) CHECK_THAT(l, Catch::Contains("/needle-"));

  // 2. --since: nothing after a time to come; the requests within the last 10 minutes.
  auto future = c.cli(n2, {"logs", "lg", "--since", "2099-01-01T00:00:00Z"});
  CHECK(future.exit_code == 0);
  CHECK(future.out.empty());
  auto recent = c.cli(n2, {"logs", "lg", "--since", "10m", "-n", "100"});
  CHECK_THAT(recent.out, Catch::Contains("/other") && Catch::Contains("/needle-2"));
  auto bad = c.cli(n2, {"logs", "lg", "--since", "soon"});
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("since: 'soon'"));

  // 3. The agents' own logs: every node's, or one node's.
  auto joins = c.cli(n0, {"logs", "--system", "--grep", "member-join", "-n", "1000"});
  INFO(joins.out << joins.err);
  REQUIRE(joins.exit_code == 0);
  for (const char* node : {"n0[info]", "n1[info]", "n2[info]"}) {
    CHECK_THAT(joins.out, Catch::Contains(node));
  }
  auto one = c.cli(n0, {"logs", "--system", "--node", "n1", "-n", "50", "--format", "json"});
  REQUIRE(one.exit_code == 0);
  const auto one_lines = lines_of(one.out);
  CHECK_FALSE(one_lines.empty());
  for (const auto& l : one_lines) CHECK(json::parse(l).value("node", "") == "n1");
  CHECK(c.cli(n0, {"logs", "--system", "--node", "nobody"}).exit_code == 1);

  // 4. A follow through n0 while the app grows from one instance to three: the new
  // instances run on nodes the follow was not reading, and their first lines still come.
  const fs::path out = c.scratch / "follow.out";
  const pid_t follower =
      spawn({shoal_binary(), "--addr", n0.http_url(), "logs", "lg", "-f", "-n", "0"}, out,
            c.scratch / "follow.err");
  std::this_thread::sleep_for(1s);
  REQUIRE(c.cli(n0, {"scale", "lg", "web=3"}).exit_code == 0);
  REQUIRE(wait_for(30s, [&] { return running(c.ps(n0, "lg")).size() == 3; }));
  std::set<std::string> nodes;
  for (const auto& i : running(c.ps(n0, "lg"))) nodes.insert(i.value("node", ""));
  CHECK(nodes.size() == 3);
  const bool seen = wait_for(30s, [&] {
    const std::string text = read_file(out);
    int started = 0;
    for (const auto& i : running(c.ps(n0, "lg"))) {
      started += text.find("as " + i.value("id", "")) != std::string::npos;
    }
    return started >= 2;  // the two new instances' "listening on port ... as web.N"
  });
  ::kill(follower, SIGTERM);
  (void)wait_exit(follower, 10s);
  INFO("follow output:\n" << read_file(out) << read_file(c.scratch / "follow.err"));
  CHECK(seen);
}

TEST_CASE("logs: wrong arguments are usage errors", "[integration][logs]") {
  for (const auto& [args, why] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"logs"}, "name an app, or --system"},
           {{"logs", "web", "--system"}, "--system shows the agents' logs"},
           {{"logs", "web", "--node", "n1"}, "--node goes with --system"},
           {{"logs", "--system", "--type", "web"}, "--type and --instance are an app's"}}) {
    auto r = run_command(args);
    INFO(Catch::Detail::stringify(args) << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(why));
  }
}

}  // namespace shoal::test
