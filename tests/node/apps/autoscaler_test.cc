// Tests of node/apps/autoscaler: decide_scale()'s rule (up over the target, down well below
// it, clamped to [min, max], cool-down, instances without enough samples ignored; requests
// per second as a second signal), the leader's UsageHistory and RequestRate, and
// [autoscale.TYPE] in shoal.toml and in AppState::scale.
#include "node/apps/autoscaler.h"

#include <catch2/catch.hpp>

#include "node/apps/app_state.h"
#include "node/apps/request_rate.h"
#include "tests/node/apps/deploy_test_util.h"

using namespace shoal;
using namespace shoal::node::apps;
using namespace shoal::node::apps::test;

namespace {

constexpr int64_t kNow = 1'000'000;

AutoscaleRule rule(int min = 1, int max = 5, int target = 50) {
  AutoscaleRule r;
  r.min = min;
  r.max = max;
  r.target_cpu_percent = target;
  r.cooldown_ms = 30'000;
  r.window_ms = 10'000;
  return r;
}

// One sample a second over the last `span_ms`, all at `percent`.
InstanceSamples steady(const std::string& id, double percent, int64_t span_ms = 10'000) {
  InstanceSamples s{id, {}};
  for (int64_t t = kNow - span_ms + 1000; t <= kNow; t += 1000) s.samples.push_back({t, percent});
  return s;
}

AutoscaleInput input(int count, std::vector<InstanceSamples> inst, AutoscaleRule r = rule()) {
  AutoscaleInput in;
  in.type = "web";
  in.rule = r;
  in.count = count;
  in.instances = std::move(inst);
  in.last_scale_ms = kNow - 60'000;  // cooled down
  in.now_ms = kNow;
  return in;
}

}  // namespace

TEST_CASE("autoscaler: scales up in proportion when the mean CPU is over the target",
          "[apps][autoscale]") {
  auto d = decide_scale(input(1, {steady("web.1", 96)}));
  REQUIRE(d);
  CHECK(d->count == 2);  // ceil(1 * 96 / 50)
  CHECK_THAT(d->reason, Catch::Contains("mean CPU 96% of the limit over 10s on 1 instance > target 50%"));
  d = decide_scale(input(2, {steady("web.1", 100), steady("web.2", 90)}));
  REQUIRE(d);
  CHECK(d->count == 4);  // ceil(2 * 95 / 50)
  // Just over the target: one more, at least.
  d = decide_scale(input(3, {steady("web.1", 51), steady("web.2", 51), steady("web.3", 51)}));
  REQUIRE(d);
  CHECK(d->count == 4);
}

TEST_CASE("autoscaler: scales down only well below the target (hysteresis)", "[apps][autoscale]") {
  // 3 at 30%: on 2 they would run at 45%, over 80% of 50: stay.
  CHECK_FALSE(decide_scale(input(3, {steady("a", 30), steady("b", 30), steady("c", 30)})));
  // At the target or a little under: stay.
  CHECK_FALSE(decide_scale(input(2, {steady("a", 50), steady("b", 45)})));
  // 3 at 20%: 2 would run at 30% (< 40%): down to ceil(3 * 20 / 40) = 2.
  auto d = decide_scale(input(3, {steady("a", 20), steady("b", 20), steady("c", 20)}));
  REQUIRE(d);
  CHECK(d->count == 2);
  CHECK_THAT(d->reason, Catch::Contains("2 instances would run below 80% of target 50%"));
  // Idle: straight to 1, never to 0 on load alone.
  d = decide_scale(input(3, {steady("a", 1), steady("b", 0), steady("c", 2)}, rule(0, 5)));
  REQUIRE(d);
  CHECK(d->count == 1);
  // A decision never lands where the next turn would scale back up.
  for (double load : {5.0, 15.0, 25.0, 35.0, 39.0}) {
    auto down = decide_scale(input(4, {steady("a", load), steady("b", load), steady("c", load), steady("d", load)}));
    if (!down) continue;
    const double after = 4 * load / down->count;
    INFO("load " << load << " -> " << down->count);
    CHECK(after <= 50);
  }
}

TEST_CASE("autoscaler: clamps to min and max", "[apps][autoscale]") {
  // Demand for 10, max 3.
  auto d = decide_scale(input(2, {steady("a", 100), steady("b", 100)}, rule(1, 3)));
  REQUIRE(d);
  CHECK(d->count == 3);
  // Already at max: nothing.
  CHECK_FALSE(decide_scale(input(3, {steady("a", 100), steady("b", 100), steady("c", 100)}, rule(1, 3))));
  // Idle at min: nothing.
  CHECK_FALSE(decide_scale(input(2, {steady("a", 0), steady("b", 0)}, rule(2, 5))));
  // Down to min, not below.
  d = decide_scale(input(4, {steady("a", 0), steady("b", 0)}, rule(2, 5)));
  REQUIRE(d);
  CHECK(d->count == 2);
  // A count outside the range (a deploy changed it) is clamped at once, cool-down or not,
  // samples or not.
  AutoscaleInput in = input(7, {}, rule(1, 3));
  in.last_scale_ms = kNow;
  d = decide_scale(in);
  REQUIRE(d);
  CHECK(d->count == 3);
  CHECK(d->reason == "count 7 is above max 3");
  in.count = 0;
  in.rule = rule(2, 3);
  d = decide_scale(in);
  REQUIRE(d);
  CHECK(d->count == 2);
  CHECK(d->reason == "count 0 is below min 2");
}

TEST_CASE("autoscaler: nothing within the cool-down", "[apps][autoscale]") {
  AutoscaleInput in = input(1, {steady("a", 100)});
  in.last_scale_ms = kNow - 29'999;
  CHECK_FALSE(decide_scale(in));
  in.last_scale_ms = kNow - 30'000;
  CHECK(decide_scale(in));
}

TEST_CASE("autoscaler: instances without enough samples are ignored", "[apps][autoscale]") {
  // One sample, or samples spanning under half the window: not judged.
  CHECK_FALSE(decide_scale(input(1, {InstanceSamples{"a", {{kNow, 100}}}})));
  CHECK_FALSE(decide_scale(input(1, {steady("a", 100, 4'000)})));
  CHECK(decide_scale(input(1, {steady("a", 100, 7'000)})));
  // Samples older than the window do not count.
  InstanceSamples old{"a", {}};
  for (int64_t t = kNow - 60'000; t < kNow - 30'000; t += 1000) old.samples.push_back({t, 100});
  CHECK_FALSE(decide_scale(input(1, {old})));
  // A new instance with one sample does not drag the mean of the others down.
  auto d = decide_scale(input(2, {steady("a", 100), InstanceSamples{"b", {{kNow, 0}}}}));
  REQUIRE(d);
  CHECK(d->count == 4);
  CHECK_THAT(d->reason, Catch::Contains("on 1 instance"));
  // Negative (unknown) rates are skipped.
  CHECK_FALSE(decide_scale(input(1, {steady("a", -1)})));
  // No instances at all.
  CHECK_FALSE(decide_scale(input(1, {})));
}

TEST_CASE("autoscaler: usage history keeps newer samples, bounded, per instance",
          "[apps][autoscale]") {
  UsageHistory h;
  auto u = [](int64_t at, double cpu) {
    node::supervisor::ResourceUsage r;
    r.sampled_ms = at;
    r.cpu_percent = cpu;
    r.memory_bytes = at;
    return r;
  };
  h.add("web.1", u(1000, -1));  // the first sample has no rate
  h.add("web.1", u(2000, 40));
  h.add("web.1", u(2000, 99));  // the same sample again (two pushes a second): ignored
  h.add("web.1", u(1500, 99));  // older: ignored
  h.add("web.2", u(2000, 10));
  auto cpu = h.cpu("web.1");
  REQUIRE(cpu.size() == 1);
  CHECK(cpu[0].at_ms == 2000);
  CHECK(cpu[0].cpu_percent == 40);
  CHECK(h.latest().at("web.1").memory_bytes == 2000);
  h.add("web.1", u(2000 + UsageHistory::kKeepMs + 1, 50));  // everything before it expires
  CHECK(h.cpu("web.1").size() == 1);
  h.retain({"web.2"});
  CHECK(h.latest().size() == 1);
  CHECK(h.cpu("web.1").empty());
  for (int64_t i = 0; i < 2000; ++i) h.add("web.2", u(3000 + i, 1));
  CHECK(h.cpu("web.2").size() == UsageHistory::kMaxSamples);

  nlohmann::json ps = {{"instances", {{{"id", "web.2"}}, {{"id", "web.9"}}, 1}}};
  add_usage(ps, h.latest());
  CHECK(ps["instances"][0]["usage"]["sampled_ms"] == 3000 + 1999);
  CHECK_FALSE(ps["instances"][1].contains("usage"));
}

TEST_CASE("autoscaler: [autoscale.TYPE] in shoal.toml", "[apps][autoscale]") {
  auto m = parse_manifest("web: ./w\nworker: ./k\n",
                          "[autoscale.web]\nmin = 1\nmax = 3\ntarget_cpu_percent = 50\n"
                          "cooldown = \"5s\"\nwindow = \"4s\"\n");
  REQUIRE(m.ok());
  const AutoscaleRule* r = m->autoscale_for("web");
  REQUIRE(r != nullptr);
  CHECK(*r == AutoscaleRule{1, 3, 50, 5000, 4000, 0});
  CHECK(m->autoscale_for("worker") == nullptr);
  // Defaults, and the JSON a release stores.
  auto d = parse_manifest("web: ./w\n", "[autoscale.web]\nmax = 4\n");
  REQUIRE(d.ok());
  CHECK(*d->autoscale_for("web") == AutoscaleRule{1, 4, 70, 60'000, 30'000, 0});
  // target_rps: web only; kept in the release's JSON.
  auto rps = parse_manifest("web: ./w\n", "[autoscale.web]\nmax = 4\ntarget_rps = 25\n");
  REQUIRE(rps.ok());
  CHECK(rps->autoscale_for("web")->target_rps == 25);
  auto rps_back = manifest_from_json(to_json(*rps));
  REQUIRE(rps_back.ok());
  CHECK(*rps_back == *rps);
  auto worker_rps =
      parse_manifest("web: ./w\nworker: ./k\n", "[autoscale.worker]\nmax = 2\ntarget_rps = 5\n");
  REQUIRE_FALSE(worker_rps.ok());
  CHECK_THAT(worker_rps.status().message(),
             Catch::Contains("autoscale.worker.target_rps: only web instances"));
  auto back = manifest_from_json(to_json(*m));
  REQUIRE(back.ok());
  CHECK(*back == *m);
  // A release stored before autoscaling existed has none.
  nlohmann::json old = to_json(*m);
  old.erase("autoscale");
  auto older = manifest_from_json(old);
  REQUIRE(older.ok());
  CHECK(older->autoscale.empty());

  auto err = [](const std::string& toml) {
    auto r = parse_manifest("web: ./w\n", toml);
    REQUIRE_FALSE(r.ok());
    return r.status().message();
  };
  CHECK_THAT(err("[autoscale.clock]\nmax = 2\n"), Catch::Contains("'clock' is not a process type"));
  CHECK_THAT(err("[autoscale.web]\nmin = 3\nmax = 2\n"), Catch::Contains("min <= max"));
  CHECK_THAT(err("[autoscale.web]\nmax = 0\n"), Catch::Contains("'autoscale.web.max' must be an integer from 1"));
  CHECK_THAT(err("[autoscale.web]\ntarget_cpu_percent = 120\n"), Catch::Contains("target_cpu_percent"));
  CHECK_THAT(err("[autoscale.web]\ncooldown = \"100ms\"\n"), Catch::Contains("at least 1s"));
  CHECK_THAT(err("[autoscale.web]\ntarget_rps = 0\n"), Catch::Contains("target_rps"));
  CHECK_THAT(err("[autoscale.web]\nmaximum = 2\n"), Catch::Contains("unknown key 'autoscale.web.maximum'"));
  CHECK_THAT(err("[autoscale]\nweb = 2\n"), Catch::Contains("'autoscale.web' must be a table"));
}

TEST_CASE("autoscaler: a manual scale of an autoscaled type stays within [min, max]",
          "[apps][autoscale]") {
  AppState a;
  deploy(a, "web: ./w\nworker: ./k\n", "[autoscale.web]\nmin = 1\nmax = 3\n");
  REQUIRE(run(a, AppState::scale({{"web", 3}})).ok());
  CHECK(a.formation().at("web").count == 3);
  expect_error(run(a, AppState::scale({{"web", 4}})), Status::Code::invalid_argument,
               "web autoscales from 1 to 3 ([autoscale.web] in shoal.toml): 4 is outside that range");
  expect_error(run(a, AppState::scale({{"web", 0}, {"worker", 2}})), Status::Code::invalid_argument,
               "0 is outside");
  CHECK(a.formation().at("worker").count == 0);  // nothing of a refused scale applies
  REQUIRE(run(a, AppState::scale({{"worker", 7}})).ok());  // not autoscaled: any count
}

TEST_CASE("autoscaler: requests per second scale web up and down, with hysteresis",
          "[apps][autoscale]") {
  AutoscaleRule r = rule(1, 6);
  r.target_rps = 10;
  auto with_rps = [&](int count, std::optional<double> rps) {
    AutoscaleInput in = input(count, {}, r);  // no CPU samples: requests alone decide
    in.rps = rps;
    return decide_scale(in);
  };
  // 45 req/s on 2 instances (22.5 each > 10): ceil(45 / 10) = 5.
  auto d = with_rps(2, 45.0);
  REQUIRE(d);
  CHECK(d->count == 5);
  CHECK_THAT(d->reason, Catch::Contains("45.0 requests/s") && Catch::Contains("> target 10"));
  // Just over: at least one more.
  d = with_rps(2, 20.5);
  REQUIRE(d);
  CHECK(d->count == 3);
  // Under the target, but not under 80% of it for one fewer: stays.
  CHECK_FALSE(with_rps(3, 20.0));
  // Well under: down to what keeps each below 80% of the target, at least 1.
  d = with_rps(5, 10.0);
  REQUIRE(d);
  CHECK(d->count == 2);
  d = with_rps(3, 0.0);
  REQUIRE(d);
  CHECK(d->count == 1);
  // Clamped to max; unknown rate: no opinion.
  d = with_rps(2, 1000.0);
  REQUIRE(d);
  CHECK(d->count == 6);
  CHECK_FALSE(with_rps(3, std::nullopt));
}

TEST_CASE("autoscaler: with CPU and requests, the one asking for more decides",
          "[apps][autoscale]") {
  AutoscaleRule r = rule(1, 8);  // CPU target 50%
  r.target_rps = 10;
  // CPU is hot (96%), requests are few: up by CPU.
  AutoscaleInput hot = input(2, {steady("a", 96), steady("b", 96)}, r);
  hot.rps = 1.0;
  auto d = decide_scale(hot);
  REQUIRE(d);
  CHECK(d->count == 4);
  CHECK_THAT(d->reason, Catch::Contains("mean CPU"));
  // CPU is idle, requests are many: up by requests.
  AutoscaleInput busy = input(2, {steady("a", 5), steady("b", 5)}, r);
  busy.rps = 70.0;
  d = decide_scale(busy);
  REQUIRE(d);
  CHECK(d->count == 7);
  CHECK_THAT(d->reason, Catch::Contains("requests/s"));
  // CPU would scale down but requests hold the count: nothing.
  AutoscaleInput held = input(3, {steady("a", 5), steady("b", 5), steady("c", 5)}, r);
  held.rps = 25.0;
  CHECK_FALSE(decide_scale(held));
}

TEST_CASE("autoscaler: RequestRate sums the nodes' counts over a window, survives a router "
          "restart, and knows when it knows nothing",
          "[apps][autoscale]") {
  RequestRate rate;
  CHECK_FALSE(rate.rate(kNow, 10'000));
  // Node a: 10 req/s; node b: 5 req/s; a sample every 2 s over the last 20 s.
  for (int64_t t = kNow - 20'000; t <= kNow; t += 2000) {
    const auto secs = static_cast<uint64_t>((t - (kNow - 20'000)) / 1000);
    rate.add("a", t, 1000 + 10 * secs);
    rate.add("b", t, 5 * secs);
  }
  auto r = rate.rate(kNow, 10'000);
  REQUIRE(r);
  CHECK(*r == Approx(15.0));
  // An older or equal sample is ignored.
  rate.add("a", kNow - 1000, 0);
  CHECK(*rate.rate(kNow, 10'000) == Approx(15.0));
  // Node c's router restarted: its count fell, so its history starts again and it counts
  // only once it spans half a window.
  rate.add("c", kNow - 9000, 500);
  rate.add("c", kNow - 8000, 600);
  rate.add("c", kNow - 6000, 10);  // restarted: 30 requests in the 6 s since
  rate.add("c", kNow, 40);
  CHECK(*rate.rate(kNow, 10'000) == Approx(15.0 + 5.0));
  // A node that has only one sample, or none in reach, adds nothing.
  RequestRate lone;
  lone.add("a", kNow, 100);
  CHECK_FALSE(lone.rate(kNow, 10'000));
}
