// node/rpc_probe.h
//
// probe_channel: asks a node's --rpc listener whether it shares our cluster secret, by
// running the channel handshake (node/secure/handshake.h) and hanging up. An agent does
// this before it joins through a seed (node/agent.cc), so a node started with the wrong
// secret is refused at once, with a message that says so, instead of joining a cluster it
// cannot talk to.
//
// `done` runs once on the io_context's thread with: ok (the seed took our secret),
// permission_denied (it refused us), unauthenticated (it answered without our secret), or
// unavailable (nothing answered as a Shoal node does: a serf agent, a seed whose --rpc is
// not its gossip port + 1, or one not up yet). Bounded by `timeout`.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <functional>
#include <memory>

#include "base/status.h"
#include "base/time.h"
#include "gossip/address.h"
#include "node/secure/cluster_secret.h"

namespace shoal::node {

void probe_channel(boost::asio::io_context& io, const gossip::Address& rpc,
                   std::shared_ptr<const secure::Keyring> ring, Duration timeout,
                   std::function<void(Status)> done);

}  // namespace shoal::node
