// node/auth/failure_limiter.h
//
// FailureLimiter: how fast one client address may fail to authenticate (docs/security.md,
// "Limits"). Each address has a bucket of `burst` failures that refills by one every
// `refill`; a failure takes one. While an address's bucket is empty its requests are
// refused with 429 and Retry-After before any token is looked at, so guessing tokens (or
// flooding the log with refusals) costs the caller time and the node next to nothing.
// Successes are free and do not refill a bucket.
//
// Contract:
//  - Thread-safe; time is given, so tests drive it.
//  - Memory is bounded: past `max_addresses` the bucket refilled longest ago is forgotten
//    first (one that is full carries nothing worth keeping).
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>

#include "base/time.h"

namespace shoal::node::auth {

class FailureLimiter {
 public:
  struct Options {
    int burst = 20;
    Duration refill = std::chrono::seconds(1);
    size_t max_addresses = 4096;
  };
  FailureLimiter() : FailureLimiter(Options{}) {}
  explicit FailureLimiter(Options options) : opts_(options) {}

  // Zero when `addr` may try now; otherwise how long until it may.
  Duration blocked_for(const std::string& addr, TimePoint now);
  // Records a failure of `addr`.
  void failed(const std::string& addr, TimePoint now);
  size_t tracked() const;

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint at{};  // when `tokens` was last brought up to date
  };
  void refill(Bucket& b, TimePoint now) const;

  const Options opts_;
  mutable std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

// "IP" of an "IP:PORT" or "[IPv6]:PORT" remote, as a limiter key.
std::string remote_host(const std::string& remote);

}  // namespace shoal::node::auth
