// gossip/node_index.h
//
// NodeIndex: members by name, as a flat open-addressing table of NodeState pointers (linear
// probing, backward-shift deletion). About 12 bytes per member where an
// unordered_map<std::string, NodeState*> costs ~72: it matters at N^2 entries.
//
// Contract: holds pointers it does not own; a NodeState must be erased before it dies and
// must not change its name while indexed. Not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "gossip/node_state.h"

namespace shoal::gossip {

class NodeIndex {
 public:
  NodeState* find(std::string_view name) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = home(name);; i = next(i)) {
      NodeState* n = slots_[i];
      if (n == nullptr) return nullptr;
      if (n->name() == name) return n;
    }
  }

  // `n` must not be indexed yet under its name.
  void insert(NodeState* n) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    size_t i = home(n->name());
    while (slots_[i] != nullptr) i = next(i);
    slots_[i] = n;
    ++size_;
  }

  void erase(std::string_view name) {
    if (slots_.empty()) return;
    size_t i = home(name);
    while (true) {
      if (slots_[i] == nullptr) return;
      if (slots_[i]->name() == name) break;
      i = next(i);
    }
    // Backward shift: pull later members of the probe run into the hole when their home
    // slot does not lie (cyclically) between the hole and their current slot.
    size_t hole = i;
    for (size_t j = next(i); slots_[j] != nullptr; j = next(j)) {
      const size_t h = home(slots_[j]->name());
      const bool between = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (!between) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = nullptr;
    --size_;
  }

  size_t size() const { return size_; }

 private:
  size_t home(std::string_view name) const {
    return std::hash<std::string_view>()(name) & (slots_.size() - 1);
  }
  size_t next(size_t i) const { return (i + 1) & (slots_.size() - 1); }
  void grow() {
    std::vector<NodeState*> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, nullptr);
    size_ = 0;
    for (NodeState* n : old) {
      if (n != nullptr) insert(n);
    }
  }

  std::vector<NodeState*> slots_;  // power-of-two size, at most 3/4 full
  size_t size_ = 0;
};

}  // namespace shoal::gossip
