// gossip/broadcast_queue.h
//
// BroadcastQueue: messages waiting to be piggybacked on gossip, each sent a limited number
// of times (retransmit_mult * ceil(log10(N + 1))). Fresh messages go first: the queue is
// ordered by (times sent ascending, size descending, newest first), and a message about a
// node replaces any older queued message about the same node — only the latest word about
// a member is worth spreading.
//
// Contract:
//  - take(overhead, limit, transmit_limit, max_count) returns at most max_count messages
//    whose sizes plus `overhead` each fit in `limit` bytes, counts one transmission for
//    each, and drops those that reached the limit.
//  - Bounded: past max_size the messages that went out most often are dropped first.
//  - Not thread-safe; owned by one engine.
#pragma once

#include <cstdint>
#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/bytes.h"

namespace shoal::gossip {

// ceil(log10(n + 1)) * mult: how many times a broadcast is sent in a cluster of n.
int retransmit_limit(int retransmit_mult, size_t n);

class BroadcastQueue {
 public:
  using Finished = std::function<void()>;

  explicit BroadcastQueue(size_t max_size = 4096) : max_size_(max_size) {}

  // `name` non-empty: replaces the queued message with the same name (its on_finished runs).
  void push(std::string name, Bytes msg, Finished on_finished = nullptr);
  std::vector<Bytes> take(size_t overhead, size_t limit, int transmit_limit,
                          size_t max_count = SIZE_MAX);

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  void clear();
  // Drops entries beyond `keep`, those that went out most often first (serf prunes its
  // queues this way when they grow too deep).
  void prune(size_t keep);

 private:
  struct Item {
    int transmits;
    size_t len;
    uint64_t id;
    std::string name;
    Bytes msg;
    Finished on_finished;
  };
  struct Key {
    int transmits;
    size_t len;
    uint64_t id;
    bool operator<(const Key& o) const {
      if (transmits != o.transmits) return transmits < o.transmits;
      if (len != o.len) return len > o.len;  // larger first: pack big messages early
      return id > o.id;                      // newer first
    }
  };
  void erase(std::map<Key, Item>::iterator it, bool finished);

  size_t max_size_;
  uint64_t next_id_ = 0;
  std::map<Key, Item> items_;
  std::map<std::string, Key> by_name_;
};

}  // namespace shoal::gossip
