// gossip/node_state.h — what memberlist knows about one member.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "base/time.h"
#include "gossip/address.h"
#include "gossip/messages.h"

namespace shoal::gossip {

struct NodeState {
  std::string name;
  Address addr;
  Bytes meta;
  uint32_t incarnation = 0;
  NodeStateType state = NodeStateType::dead;
  TimePoint state_change{};
  // [pmin, pmax, pcur, dmin, dmax, dcur]
  std::array<uint8_t, 6> vsn{};

  uint8_t pmax() const { return vsn[1]; }
  bool dead_or_left() const {
    return state == NodeStateType::dead || state == NodeStateType::left;
  }
  VersionVector vsn_vector() const { return VersionVector(vsn.begin(), vsn.end()); }
};

std::string_view to_string(NodeStateType s);

}  // namespace shoal::gossip
