// simulations/durable_store.h
//
// DurableStore: what a simulated node keeps across a crash. Writes are volatile until
// sync(); crash() throws away every write that was not synced, exactly as a power cut
// loses an unsynced page cache. A restarted node is handed the same store and finds only
// what it made durable. (Gossip keeps nothing durable; a Raft member keeps its log, hard
// state and snapshot here through simulations/raft/durable_log_store.h.)
//
// Contract: get() sees pending writes (read-your-writes); synced() sees only durable ones.
// Not thread-safe; owned by the simulator, lent to one node incarnation at a time.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "base/bytes.h"

namespace shoal::sim {

class DurableStore {
 public:
  void put(const std::string& key, Bytes value) { pending_[key] = std::move(value); }
  void erase(const std::string& key) { pending_[key] = std::nullopt; }
  void sync() {
    for (auto& [k, v] : pending_) {
      if (v) durable_[k] = std::move(*v);
      else durable_.erase(k);
    }
    pending_.clear();
    ++syncs_;
  }
  std::optional<Bytes> get(const std::string& key) const {
    if (auto it = pending_.find(key); it != pending_.end()) return it->second;
    if (auto it = durable_.find(key); it != durable_.end()) return it->second;
    return std::nullopt;
  }
  const std::map<std::string, Bytes>& synced() const { return durable_; }
  void crash() { pending_.clear(); }
  uint64_t syncs() const { return syncs_; }

 private:
  std::map<std::string, Bytes> durable_;
  std::map<std::string, std::optional<Bytes>> pending_;
  uint64_t syncs_ = 0;
};

}  // namespace shoal::sim
