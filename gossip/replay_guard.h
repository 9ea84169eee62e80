// gossip/replay_guard.h
//
// ReplayGuard: remembers the nonces of the last `capacity` authenticated messages, so a
// captured packet sent again is recognised and dropped. Memberlist has no such check (a
// replay decrypts fine and is mostly harmless: old incarnations lose), but a replayed
// leave or suspicion can cost a refutation round. Every sender draws a fresh random
// 96-bit nonce per message, so an honest duplicate does not happen. Invisible on the wire.
//
// Contract:
//  - Only nonces of messages that authenticated are recorded, so garbage cannot evict.
//  - Bounded: the oldest nonce is forgotten first; a replay older than `capacity`
//    messages is not caught (the protocol's own rules are then the defence).
//  - Not thread-safe; owned by Memberlist.
#pragma once

#include <deque>
#include <set>

#include "gossip/encryption.h"

namespace shoal::gossip {

class ReplayGuard {
 public:
  explicit ReplayGuard(size_t capacity = 8192) : capacity_(capacity) {}

  // True if `nonce` was seen before (a replay); otherwise records it and returns false.
  bool seen(const Nonce& nonce) {
    if (!set_.insert(nonce).second) return true;
    order_.push_back(nonce);
    if (order_.size() > capacity_) {
      set_.erase(order_.front());
      order_.pop_front();
    }
    return false;
  }
  size_t size() const { return order_.size(); }

 private:
  size_t capacity_;
  std::set<Nonce> set_;
  std::deque<Nonce> order_;
};

}  // namespace shoal::gossip
