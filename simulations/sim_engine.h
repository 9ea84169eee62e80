// simulations/sim_engine.h
//
// SimEngine: the machinery behind run_scenario() (simulator.h): node slots, the event loop,
// carrying out the cores' actions over the NetworkModel, and applying timeline faults
// (sim_faults.cc). Exposed for the simulator's own files and tests, not for other modules.
// Contract as in simulator.h; one engine runs once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/rng.h"
#include "simulations/durable_store.h"
#include "simulations/event_queue.h"
#include "simulations/network_model.h"
#include "simulations/node_clock.h"
#include "simulations/observer.h"
#include "simulations/scenario.h"
#include "simulations/sim_node.h"
#include "simulations/simulator.h"

namespace shoal::sim {

class SimEngine {
 public:
  SimEngine(const Scenario& scenario, const RunOptions& options, NodeFactory factory);

  void run();  // until the scenario's duration
  RunReport& report() { return report_; }
  ClusterObserver& observer() { return observer_; }
  std::string node_name(size_t i) const { return "n" + std::to_string(i); }
  static gossip::Address node_address(size_t i);

 private:
  struct Slot {
    NodeIdentity id;
    std::unique_ptr<SimNode> core;
    DurableStore store;
    NodeClock clock;
    bool up = false;
    uint32_t gen = 0;
    TimePoint wake_at = kTimeNever;
    Duration slow{};
    TimePoint frozen_until{};
    TimePoint recovered_at{};  // last unslow or restart
    uint64_t msgs = 0, bytes = 0;  // sent, over all incarnations
    uint64_t suspicions_seen = 0;  // of the current incarnation, at the last sample
    uint64_t suspicions_total = 0;
    uint64_t steps = 0;
  };

  // ---- the loop (sim_engine.cc) ----
  void dispatch(Event& e);
  bool hold_back(Event& e, Slot& s);  // slow / paused nodes take input late
  void after_call(size_t i);
  void reschedule(size_t i);
  void on_packet(Event& e);
  void on_stream_open(Event& e);
  void on_stream_reply(Event& e);
  void send_packet(size_t from, gossip::SendPacket& p);
  void open_stream(size_t from, gossip::StreamRequest& r);
  void reply_error(size_t to, uint32_t gen, uint64_t id, TimePoint at, Status error);
  void start_node(size_t i);
  const std::vector<gossip::PushNodeState>& converged_members();
  void crash_node(size_t i, bool killed);
  void join_targets(size_t i, std::vector<gossip::Address>& out);
  void take_sample();
  size_t index_of(const gossip::Address& a) const;
  TimePoint local(size_t i) const { return slots_[i].clock.to_local(now_); }
  void mix(uint64_t v);
  bool degraded(size_t i) const {
    return slots_[i].slow > Duration::zero() || now_ < slots_[i].frozen_until;
  }
  // Can o judge m fairly? They are connected, m is healthy, and neither m nor the network
  // recovered from a fault so recently that a suspicion raised during it may still expire.
  bool fair(size_t o, size_t m) const;

  // ---- faults (sim_faults.cc) ----
  void apply_fault(const FaultEvent& f);
  std::vector<size_t> resolve(const NodeSelector& sel, const std::vector<size_t>& exclude,
                              int prefer_up);
  NodeSet to_set(const std::vector<size_t>& nodes) const;

  const Scenario& sc_;
  RunOptions opt_;
  NodeFactory factory_;
  size_t n_;
  Rng rng_;      // start times, random fault targets, node seeds
  Rng net_rng_;  // every network draw
  TimePoint now_{};
  TimePoint end_{};
  EventQueue queue_;
  NetworkModel net_;
  ClusterObserver observer_;
  std::vector<Slot> slots_;
  std::vector<gossip::Action> actions_;
  std::vector<TimePoint> arrivals_;
  uint64_t invariant_stride_ = 1;
  TimePoint net_recovered_at_{};  // last heal or clear_link
  Duration grace_{};              // the longest a suspicion can last
  uint64_t last_msgs_ = 0, last_bytes_ = 0;
  std::shared_ptr<gossip::InternPool> pool_ = std::make_shared<gossip::InternPool>();
  std::vector<gossip::PushNodeState> converged_;  // warm start: everyone, alive
  RunReport report_;
};

}  // namespace shoal::sim
