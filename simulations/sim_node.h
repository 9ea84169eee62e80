// simulations/sim_node.h
//
// SimNode: one simulated machine's software, as the simulator drives it. Implementations
// wrap the shipping sans-IO cores (gossip::Serf in serf_node.h, gossip::Memberlist in
// memberlist_node.h; the Raft core and scheduler later) and add nothing to their logic.
//
// Contract:
//  - Every `now` is the node's local (possibly skewed) time; the simulator converts.
//  - After any call, the simulator drains take_actions() and carries the actions out in
//    order, then ticks the node no later than next_wakeup().
//  - Membership changes the node observes, and the user events it delivers, are reported
//    through ViewSink at once, so the simulator's checks never scan a node's whole member
//    table.
//  - A crash destroys the object; a restart builds a new one with the same identity and the
//    same DurableStore (holding only what was synced). Single-threaded.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/rng.h"
#include "base/status.h"
#include "base/time.h"
#include "gossip/config.h"
#include "gossip/events.h"
#include "gossip/intern_pool.h"
#include "gossip/messages.h"
#include "simulations/durable_store.h"

namespace shoal::sim {

// What an observer believes about a member.
enum class View : uint8_t { unknown = 0, alive = 1, failed = 2, left = 3 };

class ViewSink {
 public:
  virtual ~ViewSink() = default;
  virtual void on_view(size_t observer, const std::string& member, View view) = 0;
  // `node` delivered the user event `name` to its application (Serf engine only; the
  // sender's own copy included, as Serf delivers it locally too).
  virtual void on_user_event(size_t node, const std::string& name) = 0;
};

struct NodeIdentity {
  size_t index = 0;
  std::string name;
  gossip::Address addr;
};

class SimNode {
 public:
  virtual ~SimNode() = default;

  virtual void join(const std::vector<gossip::Address>& seeds, TimePoint now) = 0;
  virtual void leave(TimePoint now) = 0;
  virtual void handle_packet(const gossip::Address& from, ByteView data, TimePoint now) = 0;
  virtual std::optional<Bytes> handle_stream(const gossip::Address& from, ByteView message,
                                             TimePoint now) = 0;
  virtual void handle_stream_reply(uint64_t id, Result<Bytes> reply, TimePoint now) = 0;
  virtual void tick(TimePoint now) = 0;
  // Warm start: the node learns every member as alive without any gossip (memberlist
  // engine only; Scenario::validate refuses warm_start for the others).
  virtual void learn_converged(const std::vector<gossip::PushNodeState>& /*members*/,
                               TimePoint /*now*/) {}
  // Broadcasts a user event, never coalesced (Serf engine: gossip::Serf::user_event). The
  // memberlist engine has no event layer and returns failed_precondition
  // (Scenario::validate keeps scenarios from asking it).
  virtual Status send_user_event(const std::string& name, ByteView payload, TimePoint now) = 0;
  virtual TimePoint next_wakeup() const = 0;
  // Appends SendPacket / StreamRequest / JoinDone / LeaveDone actions. Member events and
  // user events have already gone to the ViewSink.
  virtual void take_actions(std::vector<gossip::Action>& out) = 0;

  virtual uint64_t suspicions() const = 0;  // suspicions this node raised, cumulative
  virtual int health_score() const = 0;
  virtual void check_invariants() const = 0;
};

// Everything a node factory needs to build one incarnation.
struct NodeContext {
  NodeIdentity id;
  gossip::Config config;
  DurableStore* store = nullptr;
  ViewSink* sink = nullptr;
  Rng rng{0};
  TimePoint now{};  // local time of the (re)start
  // Shared by every node of a run: each of N cores lists the same N names (memberlist only).
  std::shared_ptr<gossip::InternPool> pool;
};

using NodeFactory = std::function<Result<std::unique_ptr<SimNode>>(NodeContext)>;

// "serf" (the full Serf layer) or "memberlist" (the SWIM core with a minimal delegate, the
// lean choice for thousands of nodes).
Result<NodeFactory> node_factory(std::string_view engine);

}  // namespace shoal::sim
