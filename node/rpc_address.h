// node/rpc_address.h
//
// Where a member listens for node-to-node traffic (--rpc: Raft frames and the internal
// HTTP API share that port): its gossip IP, and the port of its `rpc` tag, or its gossip
// port + 1 when it has none (the default, so most nodes need no tag).
#pragma once

#include <optional>

#include "gossip/address.h"
#include "gossip/events.h"

namespace shoal::node {

inline constexpr const char* kRpcTag = "rpc";

// nullopt when the `rpc` tag is not a port, or the gossip port is 65535 with no tag.
std::optional<gossip::Address> rpc_address_of(const gossip::Member& m);

}  // namespace shoal::node
