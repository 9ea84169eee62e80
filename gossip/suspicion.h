// gossip/suspicion.h
//
// Suspicion: how long one member stays "suspect" before we call it dead (Lifeguard).
// It starts at `timeout_max` and moves toward `timeout_min` as other members independently
// confirm the suspicion: after n of the k wanted confirmations the timeout is
//   max - log(n+1)/log(k+1) * (max - min), never below min (rounded down to a millisecond).
// With k < 1 there is nobody to wait for and the timeout is min from the start.
//
// Contract:
//  - No clock and no timer inside: callers pass `now`, and read deadline().
//  - confirm() ignores repeats, the original accuser, and anything past k; it returns
//    whether the confirmation counted (the engine re-broadcasts only those).
//  - deadline() never moves later and always lies in [start + min, start + max].
#pragma once

#include <set>
#include <string>

#include "base/time.h"

namespace shoal::gossip {

class Suspicion {
 public:
  Suspicion(std::string from, int k, Duration min, Duration max, TimePoint start);

  bool confirm(const std::string& from);
  TimePoint deadline() const { return deadline_; }
  int confirmations() const { return n_; }
  TimePoint start() const { return start_; }

 private:
  int k_;
  int n_ = 0;
  Duration min_;
  Duration max_;
  TimePoint start_;
  TimePoint deadline_;
  std::set<std::string> confirmed_;
};

}  // namespace shoal::gossip
