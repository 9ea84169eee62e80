// Tests of node/supervisor/instance_logs: the last N lines over rotated files and
// instances, merged by time; following appended lines across a rotation.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "node/supervisor/instance_logs.h"
#include "tests/support/process.h"

using namespace shoal::node::supervisor;
namespace fs = std::filesystem;

namespace {

void append(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::app | std::ios::binary);
  out << text;
}

}  // namespace

TEST_CASE("logs: last N lines over rotated files and instances, by time", "[supervisor]") {
  const fs::path root = shoal::test::make_temp_dir("shoal-logs");
  fs::create_directories(root / "web.1");
  fs::create_directories(root / "worker.1");
  append(root / "web.1" / "log.1", "100 out old-1\n200 out old-2\n");
  append(root / "web.1" / "log", "300 out new-1\ngarbage line\n500 err new-2\n600 out partial");
  append(root / "worker.1" / "log", "400 out w-1\n");
  std::vector<LogSource> sources = {{"web.1", "web", root / "web.1"},
                                    {"worker.1", "worker", root / "worker.1"}};

  auto all = tail_logs(sources, 100);
  REQUIRE(all.size() == 5);  // the unterminated last line is still being written
  CHECK(all[0].line == "old-1");
  CHECK(all[3].line == "w-1");
  CHECK(all[3].type == "worker");
  CHECK(all[4].stream == "err");

  auto last2 = tail_logs(sources, 2);
  REQUIRE(last2.size() == 2);
  CHECK(last2[0].line == "w-1");
  CHECK(last2[1].line == "new-2");

  CHECK(to_ndjson(last2[1]) ==
        "{\"instance\":\"web.1\",\"line\":\"new-2\",\"stream\":\"err\",\"ts_ms\":500,\"type\":\"web\"}\n");
  LogLine bad{1, "web.1", "web", "out", std::string("\xff\xfe", 2)};
  CHECK_NOTHROW(to_ndjson(bad));
  fs::remove_all(root);
}

TEST_CASE("logs: a follower sees appended lines, across a rotation", "[supervisor]") {
  const fs::path root = shoal::test::make_temp_dir("shoal-logs");
  const fs::path dir = root / "web.1";
  fs::create_directories(dir);
  append(dir / "log", "1 out before\n");
  LogFollower f({{"web.1", "web", dir}});
  CHECK(f.poll().empty());
  append(dir / "log", "2 out a\n3 out b");
  auto got = f.poll();
  REQUIRE(got.size() == 1);
  CHECK(got[0].line == "a");
  append(dir / "log", "\n");
  // Rotate the way the shim does; a line lands in the old file first.
  append(dir / "log", "4 out c\n");
  fs::rename(dir / "log", dir / "log.1");
  append(dir / "log", "5 out d\n");
  got = f.poll();
  REQUIRE(got.size() == 3);
  CHECK(got[0].line == "b");
  CHECK(got[1].line == "c");
  CHECK(got[2].line == "d");
  // A new instance appears: read from its start.
  fs::create_directories(root / "web.2");
  append(root / "web.2" / "log", "6 err e\n");
  f.update_sources({{"web.2", "web", root / "web.2"}});
  got = f.poll();
  REQUIRE(got.size() == 1);
  CHECK(got[0].instance == "web.2");
  fs::remove_all(root);
}

TEST_CASE("logs: a filter keeps lines since a time that contain a text, over rotations",
          "[supervisor][logs]") {
  const fs::path root = shoal::test::make_temp_dir("shoal-logs");
  fs::create_directories(root / "web.1");
  append(root / "web.1" / "log.2", "50 out GET /a\n");
  append(root / "web.1" / "log.1", "100 out GET /old\n200 out POST /x\n");
  std::string big;
  for (int i = 0; i < 5000; ++i) big += std::to_string(1000 + i) + " out GET /n" + std::to_string(i) + "\n";
  append(root / "web.1" / "log", big);
  std::vector<LogSource> sources = {{"web.1", "web", root / "web.1"}};

  LogFilter get;
  get.text = "GET";
  auto gets = tail_logs(sources, 10000, 2, get);
  CHECK(gets.size() == 5002);  // all three files, POST aside
  CHECK(gets.front().line == "GET /a");

  LogFilter recent;
  recent.since_ms = 5990;
  auto last = tail_logs(sources, 10000, 2, recent);
  REQUIRE(last.size() == 10);
  CHECK(last.front().ts_ms == 5990);
  CHECK(last.back().line == "GET /n4999");

  LogFilter both{150, "/n49"};
  auto few = tail_logs(sources, 3, 2, both);
  REQUIRE(few.size() == 3);  // the last three of the 111 that match
  CHECK(few.back().line == "GET /n4999");
  CHECK(both.matches(LogLine{200, "w", "web", "out", "x /n49 y"}));
  CHECK_FALSE(both.matches(LogLine{100, "w", "web", "out", "x /n49 y"}));
  CHECK(LogFilter{}.empty());
  fs::remove_all(root);
}
