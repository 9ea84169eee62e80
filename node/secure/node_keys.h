// node/secure/node_keys.h
//
// The keyring this process's node-to-node calls go out with, and the channel's counters.
// An agent installs its keyring once at start (node/agent.cc), before any call; every
// caller of a peer's --rpc listener (call_node, forwarding, artifact fetches, log fan-out)
// reads it here rather than having it threaded through each layer. One agent per process
// is how Shoal runs; a process without an agent (the CLI) has none and never dials --rpc.
//
// Thread-safe.
#pragma once

#include <memory>

#include "node/metrics.h"
#include "node/secure/cluster_secret.h"

namespace shoal::node::secure {

void install_node_keyring(std::shared_ptr<const Keyring> ring);
// Null when none is installed, or the node runs with --insecure-rpc.
std::shared_ptr<const Keyring> node_keyring();

// Counted by every side of every channel of this process, exported as
// shoal_rpc_channel_total{event} (docs/security.md).
struct ChannelCounters {
  metrics::Counter& accepted;          // callers that proved a secret
  metrics::Counter& refused;           // callers that did not (none of our secrets)
  metrics::Counter& not_a_handshake;   // plaintext, garbage, or silence
  metrics::Counter& dial_failures;     // our handshake was refused or went unanswered
  metrics::Counter& records_rejected;  // forged, replayed, reordered or out of range
  metrics::Counter& truncated;         // a stream that ended without its final record
};
ChannelCounters& channel_counters();

}  // namespace shoal::node::secure
