// gossip/memberlist.h
//
// Memberlist: the SWIM failure detector with the Lifeguard refinements, speaking HashiCorp
// memberlist's protocol (version 2 on the wire, understanding 1..5, as Serf 0.9 runs it).
//
//  - Probing: one member per probe interval, round-robin over a shuffled list; a direct
//    ping, then after probe_timeout indirect pings through `indirect_checks` helpers (who
//    nack if they hear nothing) and a TCP ping; no answer by the (health-scaled) interval
//    makes the member suspect.
//  - Suspicion (suspicion.h) times out into dead, faster with independent confirmations;
//    a member refutes a suspicion of itself with a higher incarnation.
//  - Dissemination: alive/suspect/dead ride piggybacked on pings, acks and gossip rounds,
//    each retransmitted ~log(N) times (broadcast_queue.h); periodic TCP push-pull heals
//    whatever gossip missed.
//
// Contract:
//  - Sans-IO, single strand, like Serf (serf.h) which owns it. Every entry point takes
//    `now`; outgoing packets and streams are appended to the Outbox given at construction.
//  - Peer input is never trusted: undecodable input is dropped and counted by reason.
//  - With a keyring (Config::keyring) every packet and stream is AES-GCM encrypted as
//    memberlist frames it (encryption.h); what fails to decrypt, or repeats the nonce of a
//    recent message (replay_guard.h), is dropped and counted. Nonces come from libsodium's
//    CSPRNG, not the Rng: they change bytes, never behaviour.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/rng.h"
#include "base/status.h"
#include "base/time.h"
#include "gossip/awareness.h"
#include "gossip/broadcast_queue.h"
#include "gossip/config.h"
#include "gossip/counters.h"
#include "gossip/encryption.h"
#include "gossip/events.h"
#include "gossip/intern_pool.h"
#include "gossip/memberlist_delegate.h"
#include "gossip/node_index.h"
#include "gossip/node_state.h"
#include "gossip/replay_guard.h"
#include "gossip/suspicion.h"

namespace shoal::gossip {

class Memberlist {
 public:
  struct Options {
    std::string name;
    Address advertise;
    Config config;
    uint8_t protocol_version = kMemberlistProtocolCur;
    uint8_t delegate_min = 0, delegate_max = 0, delegate_cur = 0;
    // Where member names, addresses and metas are interned; null means a pool of our own.
    // Cores driven on one thread may share one (the simulator does).
    std::shared_ptr<InternPool> pool;
  };

  Memberlist(Options options, MemberlistDelegate* delegate, std::vector<Action>* outbox,
             Rng rng);

  // Announces ourselves alive (incarnation 1) and starts the probe/gossip/push-pull timers.
  void start(TimePoint now);

  // ---- network input ----
  void handle_packet(const Address& from, ByteView data, TimePoint now);
  std::optional<Bytes> handle_stream(const Address& from, ByteView message, TimePoint now);
  // Returns false if `id` was not one of ours (so Serf can route it elsewhere).
  bool handle_stream_reply(uint64_t id, const Result<Bytes>& reply, TimePoint now);

  void tick(TimePoint now);
  TimePoint next_wakeup() const;

  // ---- commands ----
  // Push-pull (join=true) with each address; `done(joined, errors)` runs once all answer.
  using JoinCallback = std::function<void(int joined, std::vector<std::string> errors)>;
  void join(const std::vector<Address>& addrs, JoinCallback done, TimePoint now);
  // Re-reads our meta from the delegate and gossips it with a new incarnation.
  void update_meta(TimePoint now);
  // Broadcasts our death-by-leave; `done` runs when it has gone out (or nobody is left to
  // tell). Idempotent.
  void leave(std::function<void()> done, TimePoint now);
  // Sends `msg` (a delegate message) reliably-ish to a member over UDP.
  void send_user_packet(const Address& to, ByteView msg);
  // Removes a member that is dead or left from our tables at once (force-leave -prune).
  void forget(const std::string& name);
  // Learns the alive `members` as a push-pull would (our own entry is skipped), but queues
  // no broadcast and hastens no push-pull: the simulator starts a big cluster converged this
  // way instead of replaying an N^2 join storm. Agents never call it.
  void learn_quietly(const std::vector<PushNodeState>& members, TimePoint now);

  // ---- state ----
  const NodeState* node(const std::string& name) const;
  const NodeState& self() const { return *self_; }
  const std::vector<NodeState*>& nodes() const { return nodes_; }
  size_t num_nodes() const { return nodes_.size(); }
  size_t num_alive() const;
  bool has_left() const { return left_; }
  int health_score() const { return awareness_.score(); }
  const MemberlistCounters& counters() const { return counters_; }
  const Config& config() const { return opt_.config; }
  // The live keyring: changes take effect with the next message sent or received.
  Keyring& keyring() { return opt_.config.keyring; }
  const Keyring& keyring() const { return opt_.config.keyring; }
  void check_invariants() const;

 private:
  // A probe in flight (at most one at a time, as in memberlist).
  struct Probe {
    std::string node;
    uint32_t seq = 0;
    TimePoint sent{};
    TimePoint direct_deadline{};  // then indirect probes
    TimePoint final_deadline{};   // then suspicion
    bool indirect_sent = false;
    int expected_nacks = 0;
    int nacks = 0;
    bool tcp_ok = false;
    uint64_t tcp_stream = 0;
  };
  // We relay a ping for another member's indirect probe.
  struct Relay {
    uint32_t their_seq = 0;
    Address requester;
    bool want_nack = false;
    TimePoint nack_at{};
  };
  enum class StreamKind : uint8_t { join_push_pull, push_pull, tcp_ping };
  struct PendingStream {
    StreamKind kind;
    uint64_t join_op = 0;
    std::string address;
  };
  struct JoinOp {
    int remaining = 0;
    int joined = 0;
    std::vector<std::string> errors;
    JoinCallback done;
  };

  // ---- protocol rules (memberlist_state.cc) ----
  void alive_node(const Alive& a, bool bootstrap, TimePoint now,
                  BroadcastQueue::Finished notify = nullptr);
  void suspect_node(const Suspect& s, TimePoint now);
  void dead_node(const Dead& d, TimePoint now);
  void refute(NodeState& me, uint32_t accused_incarnation);
  void merge_state(const std::vector<PushNodeState>& remote, TimePoint now);
  Status verify_protocol(const std::vector<PushNodeState>& remote) const;
  void reset_nodes(TimePoint now);
  Bytes local_push_pull(bool join);
  Status merge_remote_push_pull(ByteView body, bool expect_join_reply, TimePoint now);

  // ---- probing and gossip (memberlist.cc) ----
  void probe(TimePoint now);
  void probe_node(NodeState& node, TimePoint now);
  void probe_direct_timeout(TimePoint now);
  void probe_finish(bool success, TimePoint now);
  void gossip(TimePoint now);
  void push_pull(TimePoint now);
  // A member joined or changed its meta: sync state with a peer soon rather than at the
  // next periodic round.
  void hasten_push_pull(TimePoint now);
  std::vector<NodeState*> random_nodes(size_t k, const std::function<bool(const NodeState&)>& skip);

  // ---- packets (memberlist_net.cc) ----
  void handle_command(const Address& from, ByteView buf, TimePoint now, int depth);
  void handle_ping(const Address& from, ByteView body);
  void handle_indirect_ping(const Address& from, ByteView body, TimePoint now);
  void handle_ack(ByteView body, TimePoint now);
  void handle_nack(ByteView body);
  void drop(std::string_view reason, const Address& from, const Status& why);
  // Sends one message with piggybacked broadcasts (compound). `node`, when known, lets us
  // add the CRC wrapper for peers that speak protocol 5, as memberlist does.
  void send_msg(const Address& to, Bytes msg, const NodeState* node = nullptr);
  void send_raw(const Address& to, Bytes msg, const NodeState* node);
  uint64_t open_stream(const Address& to, Bytes data, bool expect_reply, PendingStream pending,
                       Duration timeout);
  // `max_count` leaves room in a compound for messages the caller adds itself.
  std::vector<Bytes> get_broadcasts(size_t overhead, size_t limit, size_t max_count);
  void broadcast(const std::string& node, Bytes msg, BroadcastQueue::Finished notify = nullptr);
  void finish_join_stream(uint64_t op, const std::string& addr, const Status& result);
  // Peels encryption (required when we have keys and verify_incoming) and compression
  // off a stream message. On failure *why says whether decryption was the cause.
  Result<Bytes> unwrap_stream(ByteView message, DecryptFailure* why);
  // The stream bytes to send for a message: encrypted with the primary key when on.
  Bytes wrap_stream(Bytes message) const;
  bool encrypting() const { return keyring().enabled() && opt_.config.verify_outgoing; }
  void count_decrypt_failure(DecryptFailure why, const Address& from, const Status& status);
  std::optional<Bytes> handle_plain_stream(const Address& from, ByteView message, TimePoint now);

  uint32_t next_seq() { return ++seq_no_; }
  uint32_t next_incarnation() { return ++incarnation_; }
  NodeState* find(const std::string& name);
  // The next push-pull at a random point of the interval scaled to our member count.
  void stagger_scaled_push_pull(TimePoint now);
  // A blank NodeState slot in store_ (reused after forgetting a member), and its return.
  NodeState* new_node();
  void release(NodeState* n);

  Options opt_;
  MemberlistDelegate* delegate_;
  std::vector<Action>* out_;
  Rng rng_;

  std::shared_ptr<InternPool> pool_;  // before store_: NodeStates point into it
  std::deque<NodeState> store_;       // every NodeState, by value: no allocation each
  std::vector<NodeState*> free_;      // slots of forgotten members
  std::vector<NodeState*> nodes_;     // probe order (shuffled)
  NodeIndex node_map_;
  std::map<std::string, Suspicion> suspicions_;
  NodeState* self_ = nullptr;

  uint32_t seq_no_ = 0;
  uint32_t incarnation_ = 0;
  size_t probe_index_ = 0;
  bool started_ = false;
  bool left_ = false;
  bool quiet_ = false;  // inside learn_quietly()
  Awareness awareness_;
  BroadcastQueue broadcasts_;

  std::optional<Probe> probe_;
  std::map<uint32_t, Relay> relays_;
  std::map<uint64_t, PendingStream> streams_;
  std::map<uint64_t, JoinOp> joins_;
  uint64_t next_stream_id_ = 0;
  uint64_t next_join_op_ = 0;
  std::function<void()> leave_done_;  // runs when our leave broadcast has gone out

  TimePoint next_probe_ = kTimeNever;
  TimePoint next_gossip_ = kTimeNever;
  TimePoint next_push_pull_ = kTimeNever;
  TimePoint last_hastened_push_pull_ = kTimeZero;

  MemberlistCounters counters_;
  ReplayGuard replay_guard_;
};

}  // namespace shoal::gossip
