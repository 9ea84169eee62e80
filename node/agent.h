// node/agent.h
//
// Agent: a running Shoal node. The IO shell around the sans-IO gossip core: it owns the
// data dir (and its lock), the gossip sockets, the core (gossip::Serf) and one io_context
// whose single thread — the loop — is the only thread that touches the core.
//
// On the loop, after every call into the core, the agent drains Serf::take_actions() and
// carries them out in order (UDP sends, TCP streams, member events to the log and the
// recent-events ring, join and leave completions), then re-arms one timer for
// Serf::next_wakeup(). What the node sees (member changes, user events, queries) goes to
// subscribers and, only queued, to the --event-handler runner (node/event_handler.h),
// whose threads run the scripts; run() stops it after the loop, as does the destructor.
//
// Lifecycle: create() binds and locks (errors name the address or directory); run()
// joins --join peers (retried with exponential backoff up to --retry-max attempts) and
// serves until a graceful leave completes. SIGINT/SIGTERM, request_leave() or the API
// start that leave: the core broadcasts the intent and the agent waits for LeaveDone, at
// most broadcast_timeout + leave_propagate_delay (+1 s). A second signal stops at once.
//
// Contract:
//  - create(), run() and the destructor are called from one thread (main); run() turns
//    it into the loop thread until it returns.
//  - The AgentControl methods are thread-safe and are meant for other threads (HTTP
//    workers); each posts its work onto the loop and waits, bounded (see agent_control.h).
//  - run() returns OK after a graceful leave, or the error that stopped the agent (e.g.
//    no --join peer answered within --retry-max attempts).
#pragma once

#include <atomic>
#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "gossip/serf.h"
#include "node/auth/token_store.h"
#include "node/agent_config.h"
#include "node/agent_control.h"
#include "node/cluster_secret_setup.h"
#include "node/data_dir.h"
#include "node/event_handler.h"
#include "node/gossip_transport.h"
#include "node/raft_service.h"
#include "node/recent_events.h"
#include "node/snapshot_file.h"

namespace shoal::node {

inline constexpr size_t kRecentEventsCapacity = 256;

class Agent final : public AgentControl {
 public:
  static Result<std::unique_ptr<Agent>> create(AgentConfig config);
  ~Agent() override;
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  Status run();
  // Thread-safe: begin a graceful leave, as SIGTERM does. run() returns once it is done.
  void request_leave();

  const AgentConfig& config() const { return config_; }
  const std::string& node_id() const { return data_dir_->node_id(); }
  // The Raft host of this node (its own thread; thread-safe API). Never null after create().
  RaftService* raft() { return raft_.get(); }
  // The cluster's API tokens as this node knows them (node/auth/token_store.h): kept current
  // by the catalog's state machine when this node holds a replica, else by the catalog
  // leader's pushes (NodeApps).
  std::shared_ptr<auth::TokenStore> tokens() { return tokens_; }
  // The node-to-node channel's secrets, and whether this start made them (a new cluster).
  const ClusterSecretSetup& cluster_secret() const { return cluster_secret_; }

  // ---- AgentControl (any thread but the loop) ----
  Result<std::vector<gossip::Member>> members() override;
  Result<SelfInfo> self() override;
  Result<size_t> num_alive() override;
  Result<std::vector<RecentEvent>> recent_events() override;
  Result<JoinOutcome> join(const std::vector<gossip::Address>& addrs, bool replay) override;
  Status leave() override;
  Status force_leave(const std::string& node, bool prune) override;
  Result<std::map<std::string, std::string>> update_tags(const TagUpdate& update) override;
  Status user_event(const std::string& name, Bytes payload, bool coalesce) override;
  Result<QueryStartInfo> query(const std::string& name, Bytes payload,
                               const gossip::QueryParams& params, QuerySink sink) override;
  Status respond(uint64_t token, Bytes payload) override;
  Result<uint64_t> subscribe(AgentEventSink sink) override;
  void unsubscribe(uint64_t id) override;
  Result<gossip::KeyReport> key_operation(gossip::KeyOp op, Bytes key) override;

 private:
  Agent(AgentConfig config, std::unique_ptr<DataDir> data_dir);

  // ---- loop thread only ----
  void after_core_call();  // drain and perform actions, re-arm the wake-up timer
  void perform(gossip::Action& action);
  void on_member_event(const gossip::MemberEvent& ev);
  void on_join_done(const gossip::JoinDone& done);
  // ---- events and queries (agent_events.cc) ----
  void publish(AgentEvent ev);
  void on_user_event(const gossip::UserEvent& ev);
  void on_query_received(const gossip::QueryReceived& q);
  void on_query_progress(gossip::LamportTime query, const QueryUpdate& update);
  void on_name_conflict(const gossip::NameConflictResolved& r);
  void finish_open_queries();
  void arm_wakeup();
  void on_signal(const boost::system::error_code& ec, int signo);
  void start_retry_join();
  void join_seeds(std::vector<gossip::Address> addrs);  // after their channel probes
  using SeedsProbed = std::function<void(std::vector<gossip::Address> usable, Status refused)>;
  void probe_seeds(std::vector<gossip::Address> addrs, SeedsProbed done);
  void rejoin_from_snapshot();
  void arm_snapshot_clock();
  void begin_leave(std::string_view reason);
  void finish_leave(std::string_view how);
  void stop_loop();
  Duration call_timeout() const;

  AgentConfig config_;
  std::unique_ptr<DataDir> data_dir_;
  boost::asio::io_context io_;  // declared before everything that posts to it
  std::unique_ptr<gossip::Serf> serf_;
  std::shared_ptr<GossipTransport> transport_;
  std::shared_ptr<auth::TokenStore> tokens_ = std::make_shared<auth::TokenStore>();
  std::unique_ptr<RaftService> raft_;
  boost::asio::steady_timer wake_timer_;
  TimePoint wake_armed_for_ = kTimeNever;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer leave_deadline_;
  boost::asio::signal_set signals_;
  std::unique_ptr<SnapshotFile> snapshot_;  // DATA_DIR/serf.snapshot
  boost::asio::steady_timer snapshot_timer_;
  RecentEvents events_{kRecentEventsCapacity};
  std::unique_ptr<EventHandlerRunner> handlers_;  // null without --event-handler

  std::map<uint64_t, std::function<void(const gossip::JoinDone&)>> pending_joins_;
  std::vector<std::function<void()>> leave_waiters_;
  std::map<uint64_t, AgentEventSink> subscribers_;
  uint64_t next_subscriber_ = 0;
  uint64_t event_seq_ = 0;
  std::map<gossip::LamportTime, QuerySink> open_queries_;
  int join_attempts_ = 0;
  bool leaving_ = false;
  bool left_ = false;
  Status exit_status_;
  ClusterSecretSetup cluster_secret_;
  std::atomic<bool> stopped_{false};  // read by other threads (call_on_loop)
};

}  // namespace shoal::node
