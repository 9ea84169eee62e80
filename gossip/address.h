// gossip/address.h
//
// Address: an IP (v4 or v6) and port as memberlist carries them: 4 or 16 raw bytes plus a
// port. Value type, cheap to copy and compare, usable as a map key.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace shoal::gossip {

struct Address {
  std::array<uint8_t, 16> ip{};  // v4 in the first 4 bytes
  uint8_t ip_len = 0;            // 4, 16, or 0 for "unset"
  uint16_t port = 0;

  bool valid() const { return ip_len == 4 || ip_len == 16; }
  ByteView ip_bytes() const { return {ip.data(), ip_len}; }
  Bytes ip_vector() const { return Bytes(ip.begin(), ip.begin() + ip_len); }

  // "127.0.0.1:7946", "[::1]:7946".
  std::string to_string() const;
  std::string ip_string() const;

  // From raw IP bytes (4 or 16; a v4-mapped v6 address is folded to v4) and a port.
  static Result<Address> from_bytes(ByteView ip, uint16_t port);
  // Parses "IP:PORT", "[IPv6]:PORT", or "IP" (then default_port). No DNS: names are an error.
  static Result<Address> parse(std::string_view text, uint16_t default_port = 0);

  auto operator<=>(const Address&) const = default;
};

}  // namespace shoal::gossip
