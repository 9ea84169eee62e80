// What the apps verbs of `shoal` print: the deploy progress stream, log lines, the upload
// bar and the tables (cli/*_render.h, cli/progress.h, cli/human_units.h).
#include <catch2/catch.hpp>

#include <cstdio>

#include "cli/apps_render.h"
#include "cli/deploy_render.h"
#include "cli/human_units.h"
#include "cli/logs_render.h"
#include "cli/progress.h"

using namespace shoal;
using namespace shoal::cli;
using nlohmann::json;

namespace {

const std::string kDeployStream =
    "{\"event\":\"received\",\"bytes\":1234567,\"digest\":\"3f9a1c2b4d5e6f7a8b9c\"}\n"
    "{\"event\":\"app_created\",\"app\":\"hello\",\"group\":4611686018427387905}\n"
    "{\"event\":\"build\",\"line\":\"Collecting flask...\"}\n"
    "{\"event\":\"release\",\"version\":3,\"digest\":\"3f9a1c2b4d5e6f7a8b9c\"}\n"
    "{\"event\":\"instance\",\"id\":\"web.3f9a1c\",\"node\":\"node-b\",\"state\":\"starting\"}\n"
    "{\"event\":\"future_event\",\"x\":1}\n"
    "{\"event\":\"instance\",\"id\":\"web.3f9a1c\",\"node\":\"node-b\",\"state\":\"running\"}\n"
    "{\"event\":\"done\",\"release\":3,\"instances\":2}\n";

const std::string kDeployText =
    "-----> Received 1.18 MiB (sha256 3f9a1c2b4d5e)\n"
    "-----> Created app hello (group 4611686018427387905)\n"
    "       Collecting flask...\n"
    "-----> Release v3 (sha256 3f9a1c2b4d5e)\n"
    "       web.3f9a1c on node-b: starting\n"
    "       web.3f9a1c on node-b: running\n"
    "-----> Done: v3 is live with 2 instances\n";

struct Shown {
  std::string text;
  std::vector<std::string> events;
  DeployStream::Show show() {
    return [this](const std::string& event, std::string_view, const std::string& t) {
      events.push_back(event);
      if (!t.empty()) text += t + "\n";
    };
  }
};

}  // namespace

TEST_CASE("deploy stream: events become readable lines, whatever the piece boundaries",
          "[cli-apps][render]") {
  for (size_t piece : {size_t{1}, size_t{7}, size_t{64}, kDeployStream.size()}) {
    INFO("piece size " << piece);
    DeployStream stream;
    Shown out;
    bool more = true;
    for (size_t at = 0; at < kDeployStream.size() && more; at += piece) {
      more = stream.feed(std::string_view(kDeployStream).substr(at, piece), out.show());
    }
    CHECK_FALSE(more);
    CHECK(stream.ended());
    CHECK(stream.outcome().ok());
    CHECK(out.text == kDeployText);
    CHECK(out.events.size() == 8);  // the unknown event was seen, and printed nothing
  }
}

TEST_CASE("deploy stream: error, early end and garbage decide the outcome", "[cli-apps][render]") {
  SECTION("an error event is the outcome, with the agent's words") {
    DeployStream stream;
    Shown out;
    CHECK_FALSE(stream.feed(
        "{\"event\":\"received\",\"bytes\":10,\"digest\":\"ab\"}\n"
        "{\"event\":\"error\",\"message\":\"build command failed with exit code 2; v2 keeps running\"}\n"
        "{\"event\":\"done\",\"release\":3,\"instances\":1}\n",
        out.show()));
    CHECK(stream.outcome().code() == Status::Code::failed_precondition);
    CHECK(stream.outcome().message() == "build command failed with exit code 2; v2 keeps running");
    CHECK(out.text == "-----> Received 10 B (sha256 ab)\n");  // nothing after the error
  }
  SECTION("a stream that stops before done or error is a failure") {
    DeployStream stream;
    Shown out;
    CHECK(stream.feed("{\"event\":\"release\",\"version\":1,\"digest\":\"x\"}\n{\"event\":\"do", out.show()));
    CHECK_FALSE(stream.ended());
    CHECK(stream.outcome().code() == Status::Code::unavailable);
    CHECK_THAT(stream.outcome().message(), Catch::Contains("before it said done or error"));
  }
  SECTION("a line that is not an event is corruption naming it") {
    DeployStream stream;
    Shown out;
    CHECK_FALSE(stream.feed("<html>502 Bad Gateway</html>\n", out.show()));
    CHECK(stream.outcome().code() == Status::Code::corruption);
    CHECK_THAT(stream.outcome().message(), Catch::Contains("<html>502 Bad Gateway</html>"));
    CHECK_FALSE(stream.feed("{\"event\":\"done\"}\n", out.show()));  // over is over
  }
  SECTION("a plain API error keeps its message") {
    DeployStream stream;
    Shown out;
    CHECK_FALSE(stream.feed("{\"error\":\"app name 'Bad_Name' is not a DNS label\"}\n", out.show()));
    CHECK(stream.outcome().message() == "app name 'Bad_Name' is not a DNS label");
  }
}

TEST_CASE("deploy stream: a multi-line build line stays indented", "[cli-apps][render]") {
  CHECK(render_deploy_event(json{{"event", "build"}, {"line", "a\nb"}}) == "       a\n       b");
  CHECK(render_deploy_event(json{{"event", "done"}, {"release", 1}, {"instances", 1}}) ==
        "-----> Done: v1 is live with 1 instance");
  CHECK(render_deploy_event(json{{"event", "instance"}, {"id", "web.1"}, {"node", "n0"},
                                 {"state", "running"}, {"health", "starting"}}) ==
        "       web.1 on n0: running (starting)");
  CHECK(render_deploy_event(json{{"event", 7}}).empty());
  CHECK(render_deploy_event(json{{"event", "rollback"},
                                 {"from", 3},
                                 {"release", 4},
                                 {"description", "automatic rollback of v3 to v2: x"}}) ==
        "-----> Rolled back: v4 is the automatic rollback of v3 to v2: x");
}

TEST_CASE("log lines: TIMESTAMP app[INSTANCE]: line, in UTC", "[cli-apps][render]") {
  auto line = render_log_line(
      R"({"ts_ms":1700000000123,"instance":"web.3f9a1c","type":"web","stream":"out","line":"Listening on 20001"})");
  REQUIRE(line.ok());
  CHECK(*line == "2023-11-14T22:13:20.123Z app[web.3f9a1c]: Listening on 20001");

  auto bad = render_log_line("not json at all");
  CHECK(bad.status().code() == Status::Code::corruption);
  CHECK_THAT(bad.status().message(), Catch::Contains("not json at all"));
  CHECK(render_log_line(R"({"ts_ms":"yesterday","line":"x"})").status().code() ==
        Status::Code::corruption);
  auto err = render_log_line(R"({"error":"node-c did not answer"})");
  CHECK(err.status().code() == Status::Code::unavailable);
  CHECK(err.status().message() == "node-c did not answer");
}

TEST_CASE("human units", "[cli-apps][render]") {
  CHECK(format_bytes(0) == "0 B");
  CHECK(format_bytes(1023) == "1023 B");
  CHECK(format_bytes(1024) == "1.00 KiB");
  CHECK(format_bytes(12'900'000) == "12.3 MiB");
  CHECK(format_bytes(uint64_t{3} << 30) == "3.00 GiB");
  CHECK(format_seconds(7.9) == "7s");
  CHECK(format_seconds(65) == "1m05s");
  CHECK(format_seconds(7380) == "2h03m");
  CHECK(format_seconds(-1) == "0s");
  CHECK(format_utc_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_utc_ms(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(format_age(1000, 13'000) == "12s");
  CHECK(format_age(0, 3 * 3600 * 1000) == "3h");
  CHECK(format_age(5000, 1000) == "0s");
}

TEST_CASE("upload progress: bar, size, percent, rate and ETA", "[cli-apps][render]") {
  const uint64_t mib = 1 << 20;
  CHECK(render_progress("hello.tar.gz", 18 * mib, 40 * mib, 3.0) ==
        "hello.tar.gz [=========>          ]  45%  18.0 MiB / 40.0 MiB  6.00 MiB/s  ETA 3s");
  CHECK(render_progress("a", 0, 10, 0) == "a [>                   ]   0%  0 B / 10 B  - /s  ETA -");
  CHECK(render_progress("a", 10, 10, 1) == "a [====================] 100%  10 B / 10 B  10 B/s  ETA 0s");
  CHECK(render_upload_summary("hello.tar.gz", 40 * mib, 8) ==
        "Uploaded hello.tar.gz: 40.0 MiB in 8s (5.00 MiB/s)");
}

TEST_CASE("upload progress: redraws on a terminal, one summary line elsewhere",
          "[cli-apps][render]") {
  auto t = std::chrono::steady_clock::time_point{};
  auto now = [&t] { return t; };
  char* buf = nullptr;
  size_t len = 0;
  {
    std::FILE* out = open_memstream(&buf, &len);
    REQUIRE(out != nullptr);
    UploadProgress quiet(out, /*terminal=*/false, "x.tgz", 4096, now);
    quiet.update(1024);
    t += std::chrono::seconds(2);
    quiet.update(4096);
    quiet.finish();
    quiet.finish();
    std::fclose(out);
    CHECK(std::string(buf, len) == "Uploaded x.tgz: 4.00 KiB in 2s (2.00 KiB/s)\n");
    std::free(buf);
  }
  {
    std::FILE* out = open_memstream(&buf, &len);
    REQUIRE(out != nullptr);
    t = {};
    UploadProgress bar(out, /*terminal=*/true, "x.tgz", 4096, now);
    bar.update(1024);  // drawn
    bar.update(2048);  // within 100 ms: skipped
    t += std::chrono::milliseconds(150);
    bar.update(3072);  // drawn
    bar.finish();      // the last state, then a newline
    std::fclose(out);
    const std::string s(buf, len);
    std::free(buf);
    CHECK(std::count(s.begin(), s.end(), '\r') == 3);
    CHECK_THAT(s, Catch::Contains(" 25%") && Catch::Contains(" 75%") && !Catch::Contains(" 50%"));
    CHECK_THAT(s, Catch::EndsWith("\x1b[K\n"));
  }
}

TEST_CASE("apps tables", "[cli-apps][render]") {
  const json apps = json::parse(R"({"apps":[
      {"name":"hello","group":4611686018427387905,"release":3,"instances":{"running":2,"total":3}},
      {"name":"new","group":4611686018427387906,"release":0,"instances":{"running":0,"total":0}}]})");
  CHECK(render_apps_table(apps) ==
        "Name   Release  Instances\n"
        "hello  v3       2/3\n"
        "new    -        0/0\n");

  const json ps = json::parse(R"js({"instances":[
      {"id":"web.3f9a1c","type":"web","node":"node-b","release":3,"state":"running","health":"healthy","port":20001,"restarts":0,"since_ms":1000,
       "usage":{"cpu_percent":42.4,"memory_bytes":12582912}},
      {"id":"worker.77","type":"worker","node":"node-c","release":3,"state":"pending","port":0,"restarts":2,"since_ms":0},
      {"id":"worker.78","type":"worker","node":"node-c","release":3,"state":"crashed","port":0,"restarts":5,"since_ms":0,
       "message":"killed: out of memory (limit 32 MB) (5 failures in a row)","usage":{"cpu_percent":99,"memory_bytes":1}}]})js");
  CHECK(render_ps_table(ps, 181'000) ==
        "ID          Type    Node    Release  State    Health   CPU  Mem       Port   Restarts  Since\n"
        "web.3f9a1c  web     node-b  v3       running  healthy  42%  12.0 MiB  20001  0         3m\n"
        "worker.77   worker  node-c  v3       pending  -        -    -         -      2\n"
        "worker.78   worker  node-c  v3       crashed  -        -    -         -      5\n"
        "\n"
        "worker.78: killed: out of memory (limit 32 MB) (5 failures in a row)\n");

  const json releases = json::parse(R"({"releases":[
      {"version":2,"digest":"aaaaaaaaaaaaaaaa","description":"Deploy hello.tar.gz","created_ms":1700000000000,"current":false},
      {"version":3,"digest":"bbbbbbbbbbbbbbbb","description":"Set DEBUG","created_ms":1700000060000,"current":true}]})");
  CHECK(render_releases_table(releases) ==
        "   Version  Description          Digest        Created\n"
        "   v2       Deploy hello.tar.gz  aaaaaaaaaaaa  2023-11-14T22:13:20Z\n"
        "*  v3       Set DEBUG            bbbbbbbbbbbb  2023-11-14T22:14:20Z\n");
  // A release from a git push: the Commit column appears, '-' for the others.
  const json pushed = json::parse(R"({"releases":[
      {"version":1,"digest":"aaaaaaaaaaaaaaaa","description":"deploy","created_ms":1700000000000},
      {"version":2,"digest":"bbbbbbbbbbbbbbbb","description":"deploy","created_ms":1700000060000,"current":true,
       "commit":"0123456789abcdef0123456789abcdef01234567"}]})");
  CHECK(render_releases_table(pushed) ==
        "   Version  Description  Digest        Commit        Created\n"
        "   v1       deploy       aaaaaaaaaaaa  -             2023-11-14T22:13:20Z\n"
        "*  v2       deploy       bbbbbbbbbbbb  0123456789ab  2023-11-14T22:14:20Z\n");

  CHECK(render_config(json::parse(R"({"config":{"Z":"1","A":"x=y"}})")) == "A=x=y\nZ=1\n");
  CHECK(render_config(json::parse(R"({"config":{}})")).empty());

  const json info = json::parse(R"({"name":"hello","group":4611686018427387905,"leader":"node-a",
      "replicas":["node-a","node-b"],"release":3,"stopped":false,
      "formation":{"web":{"count":2,"memory_mb":256,"cpu_millis":500}}})");
  CHECK(render_app_info(info) ==
        "=== hello\n"
        "Group:     4611686018427387905\n"
        "Leader:    node-a\n"
        "Replicas:  node-a, node-b\n"
        "Release:   v3\n"
        "State:     running\n"
        "\n"
        "Type  Count  Memory  CPU\n"
        "web   2      256 MB  500m\n");
  CHECK_NOTHROW(render_app_info(json::array()));  // odd answers print blanks, never throw
  CHECK_NOTHROW(render_ps_table(json::parse(R"({"instances":[1,"x",null]})"), 0));
}
