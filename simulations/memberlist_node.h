// simulations/memberlist_node.h
//
// MemberlistNode: a SimNode running gossip::Memberlist directly, under a minimal delegate
// (no meta, no user messages, no delegate state) that only reports joins and leaves to the
// ViewSink. This is the SWIM + Lifeguard core the agent ships, without Serf's per-member
// bookkeeping, so thousands of nodes fit in one process. Contract as in sim_node.h.
#pragma once

#include "simulations/sim_node.h"

namespace shoal::sim {

Result<std::unique_ptr<SimNode>> make_memberlist_node(NodeContext ctx);

}  // namespace shoal::sim
