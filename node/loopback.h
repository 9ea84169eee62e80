// node/loopback.h
//
// Where an address reaches. is_loopback: it stays on this machine (127.0.0.0/8 or ::1),
// which decides that the API may skip TLS (docs/security.md) and that --insecure-rpc is
// allowed. is_unspecified: the wildcard (0.0.0.0, ::), which listens on every interface
// (so it is not loopback) but names no address a peer could use.
#pragma once

#include <algorithm>

#include "gossip/address.h"

namespace shoal::node {

inline bool is_loopback(const gossip::Address& a) {
  const ByteView ip = a.ip_bytes();
  if (ip.size() == 4) return ip[0] == 127;
  return ip.size() == 16 &&
         std::all_of(ip.begin(), ip.end() - 1, [](uint8_t b) { return b == 0; }) && ip[15] == 1;
}

inline bool is_unspecified(const gossip::Address& a) {
  const ByteView ip = a.ip_bytes();
  return std::all_of(ip.begin(), ip.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace shoal::node
