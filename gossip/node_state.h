// gossip/node_state.h — what memberlist knows about one member.
//
// A memberlist holds one NodeState per member, so a cluster of N holds N^2 of them; this
// one is 48 bytes. Name, address and meta are pointers into the owning Memberlist's
// InternPool (intern_pool.h), read through name(), addr() and meta(); only Memberlist
// changes them.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "base/time.h"
#include "gossip/address.h"
#include "gossip/messages.h"

namespace shoal::gossip {

class Memberlist;

struct NodeState {
  const std::string& name() const { return *name_; }
  const Address& addr() const { return *addr_; }
  const Bytes& meta() const { return *meta_; }

  TimePoint state_change{};
  uint32_t incarnation = 0;
  NodeStateType state = NodeStateType::dead;
  // [pmin, pmax, pcur, dmin, dmax, dcur]
  std::array<uint8_t, 6> vsn{};

  uint8_t pmax() const { return vsn[1]; }
  bool dead_or_left() const {
    return state == NodeStateType::dead || state == NodeStateType::left;
  }
  VersionVector vsn_vector() const { return VersionVector(vsn.begin(), vsn.end()); }

 private:
  friend class Memberlist;
  static const std::string kNoName;
  static const Address kNoAddress;
  static const Bytes kNoMeta;

  const std::string* name_ = &kNoName;
  const Address* addr_ = &kNoAddress;
  const Bytes* meta_ = &kNoMeta;
};

std::string_view to_string(NodeStateType s);

}  // namespace shoal::gossip
