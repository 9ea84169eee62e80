// simulations/serf_node.h
//
// SerfNode: a SimNode running the full gossip::Serf layer, exactly as the agent runs it
// (tags, intents, Lamport clocks, reaping), with Serf's member events mapped to views.
// Contract as in sim_node.h.
#pragma once

#include "simulations/sim_node.h"

namespace shoal::sim {

Result<std::unique_ptr<SimNode>> make_serf_node(NodeContext ctx);

}  // namespace shoal::sim
