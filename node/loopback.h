// node/loopback.h
//
// Whether an address stays on this machine (127.0.0.0/8 or ::1): what decides that the API
// must speak TLS (docs/security.md) and that --insecure-rpc is allowed. The wildcard
// (0.0.0.0, ::) is not loopback: it listens on every interface.
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

}  // namespace shoal::node
