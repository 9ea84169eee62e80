// node/apps/cluster_view.h
//
// The apps layer's view of the cluster, from gossip: each member's status, its HTTP API
// address (tag `http`: the port; the IP is its gossip IP), free memory (tag `mem`, MB) and
// whether it holds a catalog replica (tag `cat`). A member with an `http` tag runs the apps
// layer; node-to-node calls go to its `rpc` address (node/rpc_address.h), never to the
// public API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gossip/events.h"

namespace shoal::node::apps {

inline constexpr const char* kHttpTag = "http";
inline constexpr const char* kMemoryTag = "mem";
inline constexpr const char* kCatalogTag = "cat";

struct PeerInfo {
  std::string name;
  gossip::MemberStatus status = gossip::MemberStatus::none;
  std::string http;  // "IP:PORT"; empty if the member advertises no API (a stock serf agent)
  std::string rpc;   // "IP:PORT" for node-to-node calls; empty exactly when `http` is
  int64_t memory_free_mb = -1;  // -1: not advertised
  bool catalog = false;
  bool alive() const { return status == gossip::MemberStatus::alive; }
};

PeerInfo peer_from_member(const gossip::Member& m);
std::vector<PeerInfo> peers_from_members(const std::vector<gossip::Member>& members);
const PeerInfo* find_peer(const std::vector<PeerInfo>& peers, const std::string& name);

// Free memory of this host in MB (MemAvailable), for the `mem` tag; nullopt if unreadable.
std::optional<int64_t> host_memory_available_mb();

}  // namespace shoal::node::apps
