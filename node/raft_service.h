// node/raft_service.h
//
// RaftService: the IO shell of the multi-group Raft host (raft/host.h) inside an agent.
// It owns the node's Raft database (DATA_DIR/raft, one LevelDB for every group), the TCP
// transport on --rpc (node/raft_transport.h), and one thread running its own io_context —
// the Raft loop — so that disk syncs never stall gossip.
//
// One loop turn: whatever arrived (frames, requests) is handed to the host, then one
// flush() per turn writes every group's changes in one WriteBatch (synced when needed),
// sends one frame per peer, and completes requests. A timer wakes the loop at the host's
// next timer.
//
// Peers are named by their node name; their --rpc address comes from gossip (set_peer):
// the member's tag `rpc` if it has one, else its gossip port + 1.
//
// Contract:
//  - Every public method is thread-safe. The blocking ones wait at most a few seconds
//    (Status::timeout past it); put()/get() never block and call `done` once, on the Raft
//    loop thread, so `done` must be quick (an HTTP responder's reply()).
//  - Nothing here is acknowledged before it is durable: create/delete/membership answers
//    come after the flush that wrote them; a put's answer after its entry is applied.
//  - A database error stops the host: every later call fails with that error.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>

#include "gossip/address.h"
#include "node/secure/cluster_secret.h"
#include "raft/host.h"

namespace shoal::node {

class RaftTransport;
struct RaftTransportStats;

struct RaftServiceStats {
  raft::HostCounters host;
  uint64_t bad_frames = 0;
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t frames_dropped = 0;
  uint64_t connections = 0;
  uint64_t rejected_connections = 0;
  uint64_t groups = 0;
};

class RaftService {
 public:
  struct Options {
    raft::NodeId self;
    gossip::Address rpc;
    std::filesystem::path dir;  // the LevelDB directory
    raft::Config config;
    Duration tick = std::chrono::milliseconds(100);
    raft::Index snapshot_every = 10000;
    // Which state machine a group runs; default: the test / bench key-value machine.
    raft::StateMachineFactory factory;
    // The node-to-node channel's secrets (node/raft_transport.h); null: plaintext.
    std::shared_ptr<const secure::Keyring> keys;
  };
  static Result<std::unique_ptr<RaftService>> open(Options options);
  ~RaftService();
  RaftService(const RaftService&) = delete;
  RaftService& operator=(const RaftService&) = delete;

  void stop();
  gossip::Address rpc_address() const { return rpc_; }
  const raft::NodeId& self() const { return opts_.self; }

  // Where connections to --rpc that open with an HTTP request go (node/raft_transport.h):
  // `serve` takes ownership of the socket and must be quick (it runs on the Raft loop).
  // Empty: they are closed. Thread-safe; once it returns, the old `serve` is not running.
  void set_http_handoff(std::function<void(int fd, const std::string& remote)> serve);

  void set_peer(const raft::NodeId& node, const gossip::Address& rpc);
  void remove_peer(const raft::NodeId& node);
  // Gossip believes `node` failed or left: quiet groups it led elect a new leader.
  void peer_down(const raft::NodeId& node);

  // Test / bench key-value state machine (raft/kv_state_machine.h).
  void put(raft::GroupId group, std::string key, Bytes value,
           std::function<void(const raft::Completion&)> done);
  struct ReadResult {
    Status status;
    std::optional<Bytes> value;
    raft::NodeId leader;  // when status is unavailable
    raft::Index index = 0;
  };
  void get(raft::GroupId group, std::string key, std::function<void(const ReadResult&)> done);

  // A write to any state machine: `done` once it is applied here (the machine's result in
  // Completion::result) or failed (unavailable naming the leader when not the leader).
  void propose(raft::GroupId group, Bytes command,
               std::function<void(const raft::Completion&)> done);
  // Blocking forms for threads that may wait (the apps layer's control loop, HTTP workers):
  // bounded by `timeout` (Status::timeout past it).
  Result<Bytes> propose_wait(raft::GroupId group, Bytes command,
                             Duration timeout = std::chrono::seconds(5));
  // A copy of the group's state machine (its snapshot bytes). Linearizable: after a
  // ReadIndex round through the leader (fails with unavailable naming the leader on a
  // follower); otherwise whatever this member has applied, possibly stale.
  struct MachineCopy {
    Bytes state;
    raft::Index applied = 0;
  };
  Result<MachineCopy> read_machine(raft::GroupId group, bool linearizable,
                                   Duration timeout = std::chrono::seconds(5));

  Result<std::vector<raft::GroupStatus>> list();
  Result<raft::GroupStatus> status(raft::GroupId group);
  Status create(raft::GroupId group, std::vector<raft::NodeId> voters);
  Status remove(raft::GroupId group);
  Status add_member(raft::GroupId group, const raft::NodeId& node, bool voter);
  Status remove_member(raft::GroupId group, const raft::NodeId& node);
  Status transfer(raft::GroupId group, const raft::NodeId& target);
  Result<RaftServiceStats> stats();

 private:
  explicit RaftService(Options options);
  // ---- loop thread only ----
  void on_frame(const raft::NodeId& from, ByteView payload);
  void schedule_flush();
  void flush();
  void arm(TimePoint at);
  void fail_all(const Status& why);
  template <typename T>
  Result<T> call(std::function<Result<T>(raft::Host&, TimePoint)> fn, bool after_flush);

  Options opts_;
  gossip::Address rpc_;
  boost::asio::io_context io_;
  std::shared_ptr<raft::LevelDb> db_;
  std::unique_ptr<raft::Host> host_;
  std::shared_ptr<RaftTransport> transport_;
  boost::asio::steady_timer timer_;
  TimePoint armed_for_ = kTimeNever;
  bool flush_posted_ = false;
  uint64_t next_request_ = 1;
  std::map<uint64_t, std::function<void(const raft::Completion&)>> waiting_;
  std::vector<std::function<void()>> after_flush_;
  Status failed_;

  std::mutex http_mu_;
  std::function<void(int fd, const std::string& remote)> http_handoff_;

  std::mutex peers_mu_;
  std::map<raft::NodeId, gossip::Address> peers_;

  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

}  // namespace shoal::node
