#include "node/rpc_address.h"

#include <charconv>

#include <spdlog/spdlog.h>

namespace shoal::node {

std::optional<gossip::Address> rpc_address_of(const gossip::Member& m) {
  gossip::Address a = m.addr;
  if (auto it = m.tags.find(kRpcTag); it != m.tags.end()) {
    int port = 0;
    const auto& text = it->second;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc() || ptr != text.data() + text.size() || port <= 0 || port > 65535) {
      spdlog::warn("rpc-tag-ignored name={} reason=\"bad rpc tag '{}'\"", m.name, text);
      return std::nullopt;
    }
    a.port = static_cast<uint16_t>(port);
  } else {
    if (a.port == 65535) return std::nullopt;
    a.port = static_cast<uint16_t>(a.port + 1);
  }
  return a;
}

}  // namespace shoal::node
