// gossip/awareness.h
//
// Lifeguard's local health: a score in [0, max) that rises when this node's own probes go
// unanswered in ways that suggest *we* are the slow one (missed nacks, having to refute a
// suspicion) and falls with each successful probe. Timeouts are stretched by (score + 1),
// so an overloaded node probes less eagerly instead of accusing healthy peers.
// Not thread-safe; owned by the memberlist engine.
#pragma once

#include "base/time.h"

namespace shoal::gossip {

class Awareness {
 public:
  explicit Awareness(int max) : max_(max) {}

  void apply_delta(int delta) {
    score_ += delta;
    if (score_ < 0) score_ = 0;
    if (score_ > max_ - 1) score_ = max_ - 1;
  }
  int score() const { return score_; }
  Duration scale(Duration timeout) const { return timeout * (score_ + 1); }

 private:
  int max_;
  int score_ = 0;
};

}  // namespace shoal::gossip
