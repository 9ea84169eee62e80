// Tests of node/supervisor/usage_meter: CPU rates from cumulative counters, OOM kills and
// throttled periods counted from the run's start, unknown and backwards counters.
#include <catch2/catch.hpp>

#include "node/supervisor/usage_meter.h"

using namespace shoal;
using namespace shoal::node::supervisor;
using namespace std::chrono_literals;

namespace {

CgroupUsage at(int64_t cpu_ns, int64_t mem = 1000, int64_t oom = 0, int64_t throttled = 0) {
  CgroupUsage u;
  u.cpu_ns = cpu_ns;
  u.memory_bytes = mem;
  u.rss_bytes = mem / 2;
  u.oom_kills = oom;
  u.nr_throttled = throttled;
  return u;
}

}  // namespace

TEST_CASE("usage meter: CPU as millis and % of the limit over the window", "[supervisor]") {
  const TimePoint t0 = TimePoint{} + 100s;
  UsageMeter m(200, at(0));
  const ResourceUsage& first = m.sample(at(5'000'000), t0, 1000);
  CHECK(first.cpu_millis == -1);  // no window yet
  CHECK(first.cpu_percent < 0);
  CHECK(first.memory_bytes == 1000);
  CHECK(first.rss_bytes == 500);
  CHECK(first.sampled_ms == 1000);
  // 0.2 s of CPU in 1 s: 200 millis, 100% of a 200-milli limit.
  const ResourceUsage& second = m.sample(at(205'000'000), t0 + 1s, 2000);
  CHECK(second.window_ms == 1000);
  CHECK(second.cpu_millis == 200);
  CHECK(second.cpu_percent == Approx(100.0));
  // Half of that over the next 2 s.
  const ResourceUsage& third = m.sample(at(305'000'000), t0 + 3s, 4000);
  CHECK(third.cpu_millis == 50);
  CHECK(third.cpu_percent == Approx(25.0));
  REQUIRE(m.last());
  CHECK(m.last()->sampled_ms == 4000);
}

TEST_CASE("usage meter: without a limit, % of one core", "[supervisor]") {
  UsageMeter m(0, at(0));
  m.sample(at(0), TimePoint{} + 1s, 1);
  CHECK(m.sample(at(1'500'000'000), TimePoint{} + 2s, 2).cpu_percent == Approx(150.0));
}

TEST_CASE("usage meter: OOM kills and throttling count from the run's start", "[supervisor]") {
  UsageMeter m(100, at(0, 0, /*oom=*/2, /*throttled=*/40));  // a reused cgroup's old counts
  CHECK(m.sample(at(0, 0, 2, 40), TimePoint{} + 1s, 1).oom_kills == 0);
  const ResourceUsage& u = m.sample(at(10, 0, 3, 45), TimePoint{} + 2s, 2);
  CHECK(u.oom_kills == 1);
  CHECK(u.nr_throttled == 5);
  CHECK(m.oom_kills_since_start(at(0, 0, 3)) == 1);
  CHECK(m.oom_kills_since_start(at(0, 0, -1)) == 0);  // unknown: none seen
}

TEST_CASE("usage meter: unknown or backwards counters give no rate", "[supervisor]") {
  UsageMeter m(1000, CgroupUsage{});
  m.sample(at(-1), TimePoint{} + 1s, 1);
  CHECK(m.sample(at(500), TimePoint{} + 2s, 2).cpu_millis == -1);  // no previous value
  CHECK(m.sample(at(100), TimePoint{} + 3s, 3).cpu_millis == -1);  // went backwards
  CHECK(m.sample(at(1'000'000'100), TimePoint{} + 4s, 4).cpu_millis == 1000);
  CHECK(m.sample(at(1'000'000'100), TimePoint{} + 4s, 5).cpu_millis == -1);  // no time passed
}
