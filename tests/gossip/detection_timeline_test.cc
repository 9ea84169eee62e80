// Failure detection follows memberlist's timeline step by step, at the size where the bench
// compares us with serf (N = 50, LAN profile): the first probe of the dead member, its
// failure 1 probe interval later, then the Lifeguard minimum suspicion timeout
// 4 * log10(50) * 1 s = 6.792 s once k = SuspicionMult - 2 = 2 peers have confirmed.
// (bench/gossip/detect_trace.py measures the same three steps on real serf agents.)
#include <catch2/catch.hpp>

#include <cmath>

#include "tests/gossip/local_cluster.h"

namespace shoal::gossip {
namespace {

using namespace std::chrono_literals;
using test::LocalCluster;

constexpr size_t kNodes = 50;

// memberlist's suspicionTimeout(): mult * max(1, log10(n)) * interval, with log10 kept to
// three decimals.
Duration min_suspicion(const Config& c, size_t n) {
  const double scale = std::max(1.0, std::log10(double(n)));
  return c.probe_interval * c.suspicion_mult * static_cast<int64_t>(scale * 1000) / 1000;
}

uint64_t total(LocalCluster& c, const std::string& except, uint64_t MemberlistCounters::*field) {
  uint64_t sum = 0;
  for (size_t i = 0; i < kNodes; ++i) {
    const std::string name = "n" + std::to_string(i);
    if (name != except) sum += c.serf(name).stats().memberlist.*field;
  }
  return sum;
}

TEST_CASE("at N=50 a crash is suspected one probe after its first probe and declared failed "
          "after exactly the minimum suspicion timeout",
          "[gossip][lifeguard]") {
  const Config lan = Config::lan();
  REQUIRE(min_suspicion(lan, kNodes) == 6792ms);
  for (uint64_t seed : {11, 12}) {
    CAPTURE(seed);
    LocalCluster c(seed, lan);
    for (size_t i = 0; i < kNodes; ++i) c.add("n" + std::to_string(i));
    for (size_t i = 1; i < kNodes; ++i) c.join("n" + std::to_string(i), "n0");
    c.run_for(20s);
    for (size_t i = 0; i < kNodes; ++i) {
      REQUIRE(c.count("n" + std::to_string(i), MemberStatus::alive) == kNodes);
    }

    const std::string victim = "n" + std::to_string(kNodes - 1);
    const uint64_t probes0 = total(c, victim, &MemberlistCounters::probe_failures);
    const uint64_t suspicions0 = total(c, victim, &MemberlistCounters::suspicions);
    const TimePoint kill = c.now();
    c.crash(victim);

    TimePoint first_failed_probe = kTimeNever, first_suspect = kTimeNever,
              first_failed = kTimeNever;
    const Duration step = 10ms;
    for (int i = 0; i < 6000 && first_failed == kTimeNever; ++i) {
      c.run_for(step);
      if (first_failed_probe == kTimeNever &&
          total(c, victim, &MemberlistCounters::probe_failures) > probes0) {
        first_failed_probe = c.now();
      }
      if (first_suspect == kTimeNever &&
          total(c, victim, &MemberlistCounters::suspicions) > suspicions0) {
        first_suspect = c.now();
      }
      for (size_t j = 0; j + 1 < kNodes; ++j) {
        for (const auto& e : c.events("n" + std::to_string(j))) {
          if (e.type == MemberEventType::failed && e.member.name == victim) first_failed = c.now();
        }
      }
    }
    REQUIRE(first_failed != kTimeNever);
    // Every member is probed about once per second by someone: the first probe starts
    // within a few intervals and fails one probe interval later.
    CHECK(first_failed_probe - kill <= 5 * lan.probe_interval);
    CHECK(first_suspect == first_failed_probe);
    // The accuser's own timer runs from its failed probe; two confirmations from other
    // observers' probes arrive well within it, so the minimum applies, not more.
    const Duration timeout = first_failed - first_suspect;
    CHECK(timeout >= min_suspicion(lan, kNodes) - step);
    CHECK(timeout <= min_suspicion(lan, kNodes) + step);
  }
}

}  // namespace
}  // namespace shoal::gossip
