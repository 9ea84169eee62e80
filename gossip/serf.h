// gossip/serf.h
//
// Serf: the membership layer a Shoal node runs — memberlist's SWIM + Lifeguard underneath,
// Serf's tags, join/leave intents with Lamport clocks, member states
// (alive/leaving/left/failed), reconnection to failed members and reaping on top. Speaks
// the wire format of HashiCorp Serf 0.9 / memberlist 0.2, so serf agents are peers.
//
// Contract:
//  - Sans-IO: owns no socket, thread, clock or global random source. Every call takes `now`
//    (monotonic); randomness comes from the Rng given at construction.
//  - After any call, the shell drains take_actions() and performs them in order, then
//    arranges to call tick() no later than next_wakeup().
//  - Peer input never throws and never crashes: malformed bytes are dropped and counted in
//    stats() with a reason.
//  - Not thread-safe: the shell calls it from one strand.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/rng.h"
#include "base/status.h"
#include "base/time.h"
#include "gossip/config.h"
#include "gossip/counters.h"
#include "gossip/events.h"

namespace shoal::gossip {

class Memberlist;
class SerfState;

struct SerfStats {
  MemberlistCounters memberlist;  // packets, bytes, drops by reason, probes, suspicions
  int health_score = 0;           // Lifeguard awareness: 0 is healthy
  uint64_t member_ltime = 0;
};

class Serf {
 public:
  // REQUIRES: config.node_name non-empty, config.advertise valid, tags encodable in 512 B.
  static Result<std::unique_ptr<Serf>> create(SerfConfig config, Rng rng, TimePoint now);
  ~Serf();
  Serf(const Serf&) = delete;
  Serf& operator=(const Serf&) = delete;

  // ---- input from the network ----
  void handle_packet(const Address& from, ByteView data, TimePoint now);
  // One complete message read from an inbound TCP stream (framed by the shell with
  // wire::stream_message_length). Returns the bytes to write back before closing, if any.
  std::optional<Bytes> handle_stream(const Address& from, ByteView message, TimePoint now);
  // The reply to a StreamRequest with expect_reply, or why there is none.
  void handle_stream_reply(uint64_t id, Result<Bytes> reply, TimePoint now);

  // ---- time ----
  void tick(TimePoint now);
  TimePoint next_wakeup() const;

  // ---- commands ----
  // Push-pull with each address; reports JoinDone{id}. ignore_old: do not replay old
  // user events (issue 4). Returns the id JoinDone will carry.
  uint64_t join(const std::vector<Address>& addrs, bool ignore_old, TimePoint now);
  // Graceful leave: broadcast the intent, wait for it to spread, report LeaveDone.
  void leave(TimePoint now);
  // Replace all tags; fails if they do not fit in the member meta.
  Status set_tags(std::map<std::string, std::string> tags, TimePoint now);
  // Mark a failed member as left (prune: forget it at once). not_found if unknown.
  Status force_leave(const std::string& node, bool prune, TimePoint now);

  // ---- output ----
  std::vector<Action> take_actions();

  // ---- state ----
  std::vector<Member> members() const;
  Member local_member() const;
  const SerfConfig& config() const;
  // The live gossip keyring (empty: no encryption). config().memberlist.keyring is only
  // the one we started with. Changing it takes effect with the next message.
  Keyring& keyring();
  const Keyring& keyring() const;
  SerfStats stats() const;
  size_t num_alive() const;
  bool has_left() const;

  // Checks internal invariants (tests and the simulator call it after every step).
  void check_invariants() const;

 private:
  Serf();
  std::unique_ptr<SerfState> state_;
};

}  // namespace shoal::gossip
