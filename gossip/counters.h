// gossip/counters.h — what a memberlist engine counts, for stats, metrics and tests.
// Monotonic since start; drops are keyed by a short reason ("bad checksum", ...).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace shoal::gossip {

struct MemberlistCounters {
  uint64_t packets_received = 0;
  uint64_t packets_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t dropped = 0;
  std::map<std::string, uint64_t> drop_reasons;
  uint64_t probes = 0;
  uint64_t probe_failures = 0;
  uint64_t suspicions = 0;
  uint64_t refutations = 0;
  uint64_t push_pulls = 0;
  uint64_t streams_received = 0;
  // Encryption: packets and stream messages that failed to decrypt (also in drop_reasons as
  // "decrypt: no key", "decrypt: truncated", ...), and authenticated ones seen twice.
  uint64_t decrypt_failures = 0;
  uint64_t replays = 0;
};

}  // namespace shoal::gossip
