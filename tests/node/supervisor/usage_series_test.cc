// Tests of node/supervisor/usage_series and host_usage: bounded history with a downsampled
// hour, and the /proc readings the node's own use comes from.
#include "node/supervisor/usage_series.h"

#include <catch2/catch.hpp>

#include "node/supervisor/host_usage.h"
#include "node/supervisor/usage_report.h"

using namespace shoal::node::supervisor;

namespace {

UsagePoint at(int64_t ms, double cpu, int64_t memory) {
  return UsagePoint{ms, cpu, cpu / 2, memory, memory / 2};
}

}  // namespace

TEST_CASE("usage series: recent samples are bounded, minutes are means of CPU and peaks of "
          "memory",
          "[node][supervisor][usage]") {
  UsageSeries s;
  CHECK(s.empty());
  CHECK_FALSE(s.latest());
  // Minute 0: samples at 0 s .. 59 s; minute 1: one sample.
  for (int i = 0; i < 60; ++i) s.add(at(i * 1000, i < 30 ? 100 : 300, i == 10 ? 900 : 100));
  s.add(at(60'000, 50, 10));
  s.add(at(60'000, 999, 999));  // not newer: ignored
  s.add(at(59'000, 999, 999));  // older: ignored
  REQUIRE(s.latest());
  CHECK(*s.latest() == at(60'000, 50, 10));
  const auto minutes = s.minutes();
  REQUIRE(minutes.size() == 2);
  CHECK(minutes[0].ms == 0);
  CHECK(minutes[0].cpu_millis == Approx(200));
  CHECK(minutes[0].cpu_percent == Approx(100));
  CHECK(minutes[0].memory_bytes == 900);
  CHECK(minutes[0].rss_bytes == 450);
  CHECK(minutes[1].ms == 60'000);  // the minute in progress, so far
  CHECK(minutes[1].cpu_millis == Approx(50));
  CHECK(s.minutes(30'000).size() == 1);
  CHECK(s.recent(59'000).size() == 2);

  // The recent ring keeps its last kRecent samples; the minutes their last kMinutes.
  for (int i = 61; i < 61 + 2 * 3600; ++i) s.add(at(int64_t{i} * 1000, 10, 10));
  CHECK(s.recent().size() == UsageSeries::kRecent);
  CHECK(s.minutes().size() == UsageSeries::kMinutes + 1);
}

TEST_CASE("usage series: unknown numbers stay unknown through a minute", "[node][supervisor][usage]") {
  UsageSeries s;
  s.add(UsagePoint{1000, -1, -1, -1, -1});  // a first sample has no rate yet
  s.add(UsagePoint{2000, 40, 20, 5, -1});
  const auto m = s.minutes();
  REQUIRE(m.size() == 1);
  CHECK(m[0].cpu_millis == Approx(40));  // the unknown sample is not a zero
  CHECK(m[0].memory_bytes == 5);
  CHECK(m[0].rss_bytes == -1);
}

TEST_CASE("host usage: /proc readings parse, and bad ones are named", "[node][supervisor][usage]") {
  auto cpu = parse_proc_stat("cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 1 2 3 4\n");
  REQUIRE(cpu.ok());
  CHECK(cpu->total == 1000);
  CHECK(cpu->busy == 160);  // all but idle (800) and iowait (40)
  CHECK_FALSE(parse_proc_stat("intr 1 2 3\n").ok());

  auto mem = parse_meminfo("MemTotal:       16000 kB\nMemFree:  100 kB\nMemAvailable:\t 4000 kB\n");
  REQUIRE(mem.ok());
  CHECK(mem->first == 16000 * 1024);
  CHECK(mem->second == 4000 * 1024);
  CHECK_FALSE(parse_meminfo("MemTotal: 1 kB\n").ok());

  // The command may hold spaces and parentheses: fields count from the last ')'.
  auto ticks = parse_pid_stat_cpu("42 (a (b) c) S 1 42 42 0 -1 4194560 10 0 0 0 70 30 0 0 20 0 1");
  REQUIRE(ticks.ok());
  CHECK(*ticks == 100);
  CHECK_FALSE(parse_pid_stat_cpu("42 (x) S 1 2").ok());

  auto rss = parse_status_rss("Name:\tshoal\nVmRSS:\t    2012 kB\n");
  REQUIRE(rss.ok());
  CHECK(*rss == 2012 * 1024);
  CHECK(parse_status_rss("Name: x\n").status().message().find("VmRSS") != std::string::npos);

  // The live /proc reads, whatever this machine is.
  auto live = read_host_counters();
  REQUIRE(live.ok());
  CHECK(live->cores >= 1);
  CHECK(live->memory_total_bytes > live->memory_available_bytes);
  CHECK(live->agent_rss_bytes > 0);
}

TEST_CASE("host meter: rates over the window between two readings", "[node][supervisor][usage]") {
  HostMeter m(100);  // 100 ticks a second
  HostCounters c;
  c.cores = 2;
  c.cpu_total_ticks = 1000;
  c.cpu_busy_ticks = 100;
  c.memory_total_bytes = 1000;
  c.memory_available_bytes = 400;
  c.agent_cpu_ticks = 10;
  c.agent_rss_bytes = 77;
  HostUsage first = m.sample(c, 0, 5000);
  CHECK(first.cpu_millis == -1);  // no window yet
  CHECK(first.memory_used_bytes == 600);
  // One second later: 200 ticks of both cores, 100 of them busy; the agent used 5 ticks.
  c.cpu_total_ticks += 200;
  c.cpu_busy_ticks += 100;
  c.agent_cpu_ticks += 5;
  HostUsage second = m.sample(c, 1000, 6000);
  CHECK(second.cpu_percent == Approx(50));
  CHECK(second.cpu_millis == Approx(1000));  // half of two cores: one core's worth
  CHECK(second.agent_cpu_millis == Approx(50));
  CHECK(second.point().rss_bytes == 77);
  REQUIRE(m.last());
  CHECK(m.last()->sampled_ms == 6000);
}

TEST_CASE("usage query: a window picks recent samples or minutes, bad ones are refused",
          "[node][supervisor][usage]") {
  auto none = parse_usage_query(std::nullopt, std::nullopt, 100'000'000);
  REQUIRE(none.ok());
  CHECK(none->history == UsageQuery::History::none);
  auto recent = parse_usage_query(std::string("blog"), std::string("5m"), 100'000'000);
  REQUIRE(recent.ok());
  CHECK(recent->app == "blog");
  CHECK(recent->history == UsageQuery::History::recent);
  CHECK(recent->since_ms == 100'000'000 - 300'000);
  auto hour = parse_usage_query(std::nullopt, std::string("1h"), 100'000'000);
  REQUIRE(hour.ok());
  CHECK(hour->history == UsageQuery::History::minutes);
  for (const char* bad : {"2h", "0s", "soon"}) {
    auto q = parse_usage_query(std::nullopt, std::string(bad), 0);
    CHECK_FALSE(q.ok());
    CHECK(q.status().message().rfind("window: ", 0) == 0);
  }
}
