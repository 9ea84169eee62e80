// gossip/intern_pool.h
//
// InternPool: one shared copy of each distinct member name, address and meta. A memberlist
// keeps an entry for every member, so a cluster of N holds N^2 entries; in one process
// running many cores (the simulator, at 10,000 nodes) the names, addresses and metas are the
// same few thousand values over and over, and a NodeState holds pointers into this pool
// instead of its own copies (node_state.h).
//
// Contract:
//  - Returned pointers stay valid until sweep() drops the value or the pool dies; every
//    NodeState pointing into a pool must die first (Memberlist holds the pool by shared_ptr).
//  - Not thread-safe: share a pool only between cores driven on one thread.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "base/bytes.h"
#include "gossip/address.h"

namespace shoal::gossip {

class InternPool {
 public:
  const std::string* name(const std::string& v) { return &*names_.insert(v).first; }
  const Address* addr(const Address& v) { return &*addrs_.insert(v).first; }
  const Bytes* meta(const Bytes& v) { return &*metas_.insert(v).first; }

  size_t size() const { return names_.size() + addrs_.size() + metas_.size(); }

  // Drops every value for which `live(pointer)` is false.
  void sweep(const std::function<bool(const void*)>& live) {
    erase_dead(names_, live);
    erase_dead(addrs_, live);
    erase_dead(metas_, live);
  }

 private:
  struct AddrHash {
    size_t operator()(const Address& a) const {
      return std::hash<std::string_view>()(
                 std::string_view(reinterpret_cast<const char*>(a.ip.data()), a.ip_len)) ^
             (size_t{a.port} * 0x9e3779b97f4a7c15ULL);
    }
  };
  struct BytesHash {
    size_t operator()(const Bytes& b) const {
      return std::hash<std::string_view>()(
          std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
    }
  };
  template <typename Set>
  static void erase_dead(Set& set, const std::function<bool(const void*)>& live) {
    for (auto it = set.begin(); it != set.end();) {
      it = live(&*it) ? std::next(it) : set.erase(it);
    }
  }

  std::unordered_set<std::string> names_;
  std::unordered_set<Address, AddrHash> addrs_;
  std::unordered_set<Bytes, BytesHash> metas_;
};

}  // namespace shoal::gossip
