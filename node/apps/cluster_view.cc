#include "node/apps/cluster_view.h"

#include <charconv>
#include <fstream>
#include <sstream>

#include "node/rpc_address.h"

namespace shoal::node::apps {

namespace {

std::optional<int64_t> parse_int(const std::string& s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// "127.0.0.1:7946" -> "127.0.0.1"; "[::1]:7946" -> "[::1]" (kept bracketed for host:port).
std::string host_part(const std::string& addr) {
  const auto colon = addr.rfind(':');
  return colon == std::string::npos ? addr : addr.substr(0, colon);
}

}  // namespace

PeerInfo peer_from_member(const gossip::Member& m) {
  PeerInfo p;
  p.name = m.name;
  p.status = m.status;
  if (auto it = m.tags.find(kHttpTag); it != m.tags.end()) {
    auto port = parse_int(it->second);
    if (port && *port > 0 && *port <= 65535) {
      if (auto rpc = rpc_address_of(m)) {
        p.http = host_part(m.addr.to_string()) + ":" + it->second;
        p.rpc = rpc->to_string();
      }
    }
  }
  if (auto it = m.tags.find(kMemoryTag); it != m.tags.end()) {
    if (auto v = parse_int(it->second); v && *v >= 0) p.memory_free_mb = *v;
  }
  p.catalog = m.tags.count(kCatalogTag) != 0;
  return p;
}

std::vector<PeerInfo> peers_from_members(const std::vector<gossip::Member>& members) {
  std::vector<PeerInfo> out;
  out.reserve(members.size());
  for (const auto& m : members) out.push_back(peer_from_member(m));
  return out;
}

const PeerInfo* find_peer(const std::vector<PeerInfo>& peers, const std::string& name) {
  for (const auto& p : peers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::optional<int64_t> host_memory_available_mb() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    int64_t kb = 0;
    if (fields >> kb) return kb / 1024;
  }
  return std::nullopt;
}

}  // namespace shoal::node::apps
