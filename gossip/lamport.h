// gossip/lamport.h — a Lamport clock as Serf keeps one (member, event and query clocks).
#pragma once

#include "gossip/messages.h"

namespace shoal::gossip {

class LamportClock {
 public:
  LamportTime time() const { return counter_; }
  LamportTime increment() { return ++counter_; }
  // Moves past a time seen from a peer, so our next event orders after it.
  void witness(LamportTime v) {
    if (v >= counter_) counter_ = v + 1;
  }

 private:
  LamportTime counter_ = 0;
};

}  // namespace shoal::gossip
