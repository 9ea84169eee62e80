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
#include "gossip/query.h"

namespace shoal::gossip {

class Memberlist;
class SerfState;

struct SerfStats {
  MemberlistCounters memberlist;  // packets, bytes, drops by reason, probes, suspicions
  int health_score = 0;           // Lifeguard awareness: 0 is healthy
  uint64_t member_ltime = 0;
  uint64_t event_ltime = 0;
  uint64_t query_ltime = 0;
  uint64_t user_events = 0;          // delivered (each once)
  uint64_t user_events_too_old = 0;  // older than the event buffer: not delivered
  uint64_t queries = 0;              // seen (each once), whether or not they passed filters
  size_t event_queue = 0;            // user events waiting to be gossiped
  size_t query_queue = 0;
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
  // Push-pull with each address; reports JoinDone{id}. ignore_old: user events older than
  // the event clock of the peers we join are not delivered. Returns the id JoinDone will
  // carry.
  uint64_t join(const std::vector<Address>& addrs, bool ignore_old, TimePoint now);
  // Graceful leave: broadcast the intent, wait for it to spread, report LeaveDone.
  void leave(TimePoint now);
  // Replace all tags; fails if they do not fit in the member meta.
  Status set_tags(std::map<std::string, std::string> tags, TimePoint now);
  // Mark a failed member as left (prune: forget it at once). not_found if unknown.
  Status force_leave(const std::string& node, bool prune, TimePoint now);

  // ---- user events and queries ----
  // Broadcasts a user event (delivered here too, as UserEvent). invalid_argument past the
  // size limit (name + payload, and encoded, at most user_event_size_limit); unavailable
  // once leaving.
  Status user_event(const std::string& name, Bytes payload, bool coalesce, TimePoint now);
  // Broadcasts a query; its acks and responses come back as QueryAckReceived and
  // QueryResponseReceived actions, then QueryFinished at the deadline. invalid_argument
  // for a bad tag regex or an encoded query over query_size_limit.
  Result<QueryStarted> query(const std::string& name, Bytes payload, const QueryParams& params,
                             TimePoint now);
  // Answers a QueryReceived (once, before its deadline, within the response size limit).
  Status respond(uint64_t token, Bytes payload, TimePoint now);
  // gossip_interval * query_timeout_mult * ceil(log10(N + 1)), N = live members.
  Duration default_query_timeout() const;
  // Registers (or replaces) the handler of an internal query, by full name
  // ("_serf_install-key"). _serf_ping and _serf_conflict are built in.
  void set_internal_query_handler(std::string name, InternalQueryHandler handler);

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
  // Members gossip has not declared dead or left (suspects count): memberlist's
  // NumMembers, what serf's key manager counts the answers to a keyring query against.
  size_t num_gossip_members() const;
  bool has_left() const;

  // Checks internal invariants (tests and the simulator call it after every step).
  void check_invariants() const;

 private:
  Serf();
  std::unique_ptr<SerfState> state_;
};

}  // namespace shoal::gossip
