// gossip/config.h
//
// Timing and limits of the memberlist protocol and the Serf layer. The three profiles carry
// the values HashiCorp memberlist uses for its LAN, WAN and local configs, so a mixed
// cluster of Shoal and serf agents agrees on how fast things happen. Each formula below is
// the protocol's; changing a default here changes behaviour visible to serf peers.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "base/time.h"
#include "base/version.h"
#include "gossip/address.h"
#include "gossip/keyring.h"

namespace shoal::gossip {

using namespace std::chrono_literals;

struct Config {
  std::string profile_name = "lan";

  Duration tcp_timeout = 10s;          // connect + exchange deadline of a stream
  int indirect_checks = 3;             // helpers asked to ping a member we cannot reach
  int retransmit_mult = 4;             // broadcasts go out mult * ceil(log10(N+1)) times
  int suspicion_mult = 4;              // min suspicion = mult * max(1, log10(N)) * probe
  int suspicion_max_timeout_mult = 6;  // max suspicion = min * this
  Duration push_pull_interval = 30s;   // full state sync; scaled up past 32 members
  Duration probe_interval = 1s;
  Duration probe_timeout = 500ms;      // direct ack deadline before indirect probes
  bool disable_tcp_pings = false;
  int awareness_max_multiplier = 8;    // Lifeguard: worst local health stretches timeouts
  int gossip_nodes = 3;
  Duration gossip_interval = 200ms;
  Duration gossip_to_the_dead_time = 30s;
  size_t udp_buffer_size = 1400;       // largest packet we send
  bool enable_compression = false;    // we decode LZW always; sending it is optional
  // Lifeguard (local health stretching probe timeouts, suspicion timeouts that shrink with
  // confirmations, nacks from indirect helpers, accusing a suspect in the probe itself).
  // Off is plain SWIM as memberlist ran it before Lifeguard: only the simulator and
  // bench/sim-gossip turn it off, to reproduce the paper's comparison. Agents keep it on.
  bool lifeguard = true;

  // Encryption (docs/gossip-wire.md): on when the keyring holds a key. The live keyring is
  // the engine's copy (Memberlist::keyring()); this one only seeds it. The verify flags
  // are memberlist's GossipVerifyIncoming/Outgoing: turned off only while moving a
  // running cluster from plaintext to encrypted (accept plaintext / send plaintext).
  Keyring keyring;
  bool verify_incoming = true;
  bool verify_outgoing = true;

  static Config lan() { return Config{}; }
  static Config wan() {
    Config c;
    c.profile_name = "wan";
    c.tcp_timeout = 30s;
    c.suspicion_mult = 6;
    c.push_pull_interval = 60s;
    c.probe_timeout = 3s;
    c.probe_interval = 5s;
    c.gossip_nodes = 4;
    c.gossip_interval = 500ms;
    c.gossip_to_the_dead_time = 60s;
    return c;
  }
  static Config local() {
    Config c;
    c.profile_name = "local";
    c.tcp_timeout = 1s;
    c.indirect_checks = 1;
    c.retransmit_mult = 2;
    c.suspicion_mult = 3;
    c.push_pull_interval = 15s;
    c.probe_timeout = 200ms;
    c.probe_interval = 1s;
    c.gossip_interval = 100ms;
    c.gossip_to_the_dead_time = 15s;
    return c;
  }
  // "lan", "wan" or "local"; anything else is an invalid_argument naming the choices.
  static Result<Config> by_name(std::string_view name);
};

struct SerfConfig {
  std::string node_name;
  Address advertise;  // what peers use to reach us (UDP and TCP, same port)
  std::map<std::string, std::string> tags;
  Config memberlist = Config::lan();

  uint8_t protocol_version = kSerfProtocolCur;  // Serf delegate protocol

  Duration broadcast_timeout = 5s;       // how long a leave waits for its broadcast
  Duration leave_propagate_delay = 1s;   // then lingers so peers hear it
  Duration reap_interval = 15s;
  Duration reconnect_interval = 30s;
  Duration reconnect_timeout = std::chrono::hours(24);
  Duration tombstone_timeout = std::chrono::hours(24);
  Duration recent_intent_timeout = std::chrono::minutes(5);
  Duration flap_timeout = 60s;
  size_t recent_intent_buffer = 128;  // intents for members we have not met yet

  // ---- user events and queries (Serf's defaults) ----
  size_t event_buffer = 512;   // Lamport times of user events remembered for de-dup
  size_t query_buffer = 512;   // Lamport times of queries remembered for de-dup
  int query_timeout_mult = 16;  // default timeout = gossip_interval * mult * ceil(log10(N+1))
  size_t query_size_limit = 1024;           // an encoded query we send
  size_t query_response_size_limit = 1024;  // an encoded response (or relay) we send
  size_t user_event_size_limit = 512;       // name + payload, and the encoded event
  bool enable_name_conflict_resolution = true;
  // From the snapshot (gossip/snapshot.h): the clocks start past these, so a restarted
  // agent orders its intents after its old ones and does not re-deliver old events.
  uint64_t restored_clock = 0;
  uint64_t restored_event_clock = 0;
  uint64_t restored_query_clock = 0;
};

// Serf refuses a user_event_size_limit above this ("sane limit").
inline constexpr size_t kUserEventSizeLimitMax = 9 * 1024;

}  // namespace shoal::gossip
