// FailureLimiter (node/auth/failure_limiter.h): a burst of failures, then one per refill
// period; successes are free; memory stays bounded.
#include <catch2/catch.hpp>

#include "node/auth/failure_limiter.h"

using namespace shoal;
using namespace shoal::node::auth;
using namespace std::chrono_literals;

TEST_CASE("failure limiter: a burst, then one failure per refill period") {
  FailureLimiter limiter({.burst = 3, .refill = 1s, .max_addresses = 16});
  TimePoint t = kTimeZero + 100s;
  for (int i = 0; i < 3; ++i) {
    CHECK(limiter.blocked_for("10.0.0.1", t) == Duration::zero());
    limiter.failed("10.0.0.1", t);
  }
  CHECK(limiter.blocked_for("10.0.0.1", t) == 1s);
  CHECK(limiter.blocked_for("10.0.0.2", t) == Duration::zero());  // per address
  t += 400ms;
  CHECK(limiter.blocked_for("10.0.0.1", t) == 600ms);
  t += 600ms;
  CHECK(limiter.blocked_for("10.0.0.1", t) == Duration::zero());
  limiter.failed("10.0.0.1", t);
  CHECK(limiter.blocked_for("10.0.0.1", t) > Duration::zero());
  // A long quiet spell refills the whole burst, and no more.
  t += 1h;
  for (int i = 0; i < 3; ++i) {
    CHECK(limiter.blocked_for("10.0.0.1", t) == Duration::zero());
    limiter.failed("10.0.0.1", t);
  }
  CHECK(limiter.blocked_for("10.0.0.1", t) > Duration::zero());
}

TEST_CASE("failure limiter: the address refilled longest ago is forgotten first") {
  FailureLimiter limiter({.burst = 1, .refill = 1h, .max_addresses = 2});
  const TimePoint t = kTimeZero + 1s;
  limiter.failed("a", t);
  limiter.failed("b", t + 1s);
  limiter.failed("c", t + 2s);  // evicts "a"
  CHECK(limiter.tracked() == 2);
  CHECK(limiter.blocked_for("a", t + 3s) == Duration::zero());
  CHECK(limiter.blocked_for("b", t + 3s) > Duration::zero());
  CHECK(limiter.blocked_for("c", t + 3s) > Duration::zero());
}

TEST_CASE("failure limiter: remote_host keeps the address, drops the port") {
  CHECK(remote_host("127.0.0.1:5555") == "127.0.0.1");
  CHECK(remote_host("[::1]:80") == "::1");
  CHECK(remote_host("?") == "?");
}
