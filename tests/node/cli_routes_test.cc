// `shoal routes` and `shoal domains`: what they print (cli/routes_render.h), and that their
// usage errors are caught before any agent is asked. Against a cluster they are driven by
// tests/integration/routes_test.cc.
#include <catch2/catch.hpp>

#include "cli/routes_render.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::cli;
using namespace shoal::test;
using nlohmann::json;

TEST_CASE("routes table: one line per host or backend, down nodes counted", "[cli-apps][render][routes]") {
  const json routes = json::parse(R"({"domain":"localhost","node":"node-a","apps":[
      {"app":"hello","group":5,"term":2,"version":9,"age_ms":1500,"domains":["www.hello.io"],
       "backends":[{"instance":"web.1","node":"node-a","host":"10.0.0.1","port":20001,"release":3},
                   {"instance":"web.2","node":"node-b","host":"10.0.0.2","port":20002,"release":3},
                   {"instance":"web.3","node":"node-c","host":"::1","port":20003,"release":3}],
       "down":["web.4"]},
      {"app":"idle","group":6,"term":1,"version":1,"age_ms":125000,"domains":[],"backends":[],"down":[]}]})");
  CHECK(render_routes_table(routes) ==
        "App    Hosts            Backends                     Age\n"
        "hello  hello.localhost  web.1@node-a 10.0.0.1:20001  1s\n"
        "       www.hello.io     web.2@node-b 10.0.0.2:20002\n"
        "                        web.3@node-c [::1]:20003\n"
        "                        (1 on down nodes)\n"
        "idle   idle.localhost   -                            2m\n");
  CHECK(render_routes_table(json::parse(R"({"domain":"localhost","apps":[]})")) ==
        "App  Hosts  Backends  Age\n");
  CHECK(render_routes_table(json::parse(R"({"apps":[{"app":"x","backends":7}]})")) ==
        "App  Hosts  Backends  Age\n"
        "x    x      -         -\n");

  CHECK(render_domains(json::parse(R"({"app":"hello","domains":["a.io","b.io"]})")) ==
        "a.io\nb.io\n");
  CHECK(render_domains(json::parse(
            R"({"app":"hello","domains":["a.io","b.io","c.io","d.io"],"tls":{)"
            R"("a.io":{"names":["a.io"],"not_after":"2027-01-31T12:00:00Z","expired":false},)"
            R"("c.io":{"names":["c.io"],"not_after":"2020-01-01T00:00:00Z","expired":true},)"
            R"("d.io":{"error":"the key does not belong to the certificate"}}})")) ==
        "Host  TLS\n"
        "a.io  until 2027-01-31T12:00:00Z\n"
        "b.io  -\n"
        "c.io  expired 2020-01-01T00:00:00Z\n"
        "d.io  unusable: the key does not belong to the certificate\n");
  CHECK(render_domains(json::parse(R"({"app":"hello","domains":[]})")) ==
        "App hello has no custom domain (add one with `shoal domains add APP HOST`)\n");
}

TEST_CASE("cli routes: usage errors name the problem, an unreachable agent is exit 1",
          "[node][cli][cli-apps][process][routes]") {
  auto offline = [](std::vector<std::string> args) {
    args.push_back("--addr");
    args.push_back("127.0.0.1:" + std::to_string(free_loopback_port()));
    return run_command(args);
  };
  const std::vector<std::pair<std::vector<std::string>, std::string>> usage = {
      {{"domains"}, "error: domains: give the app's NAME"},
      {{"domains", "add", "hello"}, "HOST is required"},
      {{"domains", "add", "hello", "bad_host"}, "error: domains add: domain 'bad_host' is not a host name"},
      {{"domains", "remove", "hello", "10.0.0.1"},
       "error: domains remove: domain '10.0.0.1' looks like an IP address"},
      {{"routes", "--format", "xml"}, "--format"},
  };
  for (const auto& [args, message] : usage) {
    auto r = offline(args);
    INFO("shoal " << Catch::Detail::stringify(args) << "\nstderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(message));
    CHECK(r.out.empty());
  }
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"routes"}, {"domains", "hello"}, {"domains", "add", "hello", "a.io"},
        {"domains", "remove", "hello", "a.io"}}) {
    auto r = offline(args);
    INFO("shoal " << Catch::Detail::stringify(args) << "\nstderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error: cannot reach the agent at http://127.0.0.1:"));
  }
}
