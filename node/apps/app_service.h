// node/apps/app_service.h
//
// AppService: the apps layer of a node (docs/apps.md), wiring gossip, the Raft host, the
// artifact store and the supervisor. It runs one control thread that, every `interval`
// (and at once after kick()):
//   - refreshes its view of the cluster from gossip (peers(): status, API address, memory);
//   - bootstraps the catalog group, once, on a node started without --join whose data dir
//     never belonged to a cluster (DATA_DIR/cluster records which);
//   - keeps this node's `cat` and `mem` gossip tags current;
//   - as the catalog leader, keeps the catalog's voters at 3 (5 from 5 live nodes): adds a
//     live node as learner then voter (Raft promotes it once caught up), removes a voter
//     that gossip has seen failed or left for longer than `dead_voter_grace`;
//   - as the leader of an app's group, keeps it at kMaxAppReplicas voters the same way (and
//     the catalog's record of where it lives in step), and is that app's scheduler
//     (app_leader.cc): names the
//     app, turns scheduler::plan() into commands, pushes each node its assignment (POST
//     /v1/internal/assign, fenced by group and term) and commits what the supervisors report;
//   - as an app leader, pushes the app's routes to every live node (leader_routes.cc,
//     docs/router.md): an instance leaves the routes everywhere before its supervisor is
//     told to stop it.
//
// The HTTP handlers (node/http_api_apps.cc) ask it where a group's leader is (owner()) and
// run the leader-side operations on the node that owns them.
//
// Contract: every public method is thread-safe and bounded (node-to-node calls time out in a
// few seconds). stop() (or the destructor) ends the control thread; it never stops instances.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "base/time.h"
#include "node/agent_control.h"
#include "node/apps/app_state.h"
#include "node/apps/autoscaler.h"
#include "node/apps/catalog_state.h"
#include "node/apps/cluster_view.h"
#include "node/apps/command_result.h"
#include "node/apps/request_rate.h"
#include "node/apps/scheduler.h"
#include "node/auth/token_store.h"
#include "node/router/route_store.h"
#include "node/raft_service.h"

namespace shoal::node {
class ArtifactStore;
}
namespace shoal::node::supervisor {
class Supervisor;
}

namespace shoal::node::apps {

// Where a request about a group goes: handled here (this node leads the group), or
// forwarded to `rpc` (the leader, or a replica that knows it).
struct Owner {
  bool here = false;
  std::string rpc;  // "IP:PORT" of its node-to-node listener; empty when here
  std::string node;
};

class AppService {
 public:
  struct Options {
    std::string self;
    bool may_bootstrap = false;  // started without --join
    std::filesystem::path data_dir;
    Duration interval = std::chrono::milliseconds(500);
    Duration busy_interval = std::chrono::milliseconds(100);  // while a rollout is under way
    Duration dead_voter_grace = std::chrono::seconds(30);
    Duration call_timeout = std::chrono::seconds(5);
    Duration leader_wait = std::chrono::seconds(5);  // for a group hosted here to elect
    // The route channel (docs/router.md): an app leader pushes its routes to every node at
    // once after a change and every `route_refresh` anyway; before telling a supervisor to
    // stop an instance it waits up to `route_timeout` for every node to drop it.
    Duration route_refresh = std::chrono::seconds(2);
    Duration route_timeout = std::chrono::seconds(1);
    // Called on the control thread each turn with the gossip view (the RouteStore leaves
    // out backends on down nodes), and every few seconds with the catalog (it drops
    // destroyed apps).
    std::function<void(const std::vector<PeerInfo>&)> on_peers;
    std::function<void(const CatalogState&)> on_catalog;
    // The token channel (leader_tokens.cc, docs/security.md): the node's TokenStore, which
    // pushes from a catalog leader update; a catalog leader pushes the table to every node
    // at once after a change and every `token_refresh` anyway. Null: no API tokens.
    std::shared_ptr<auth::TokenStore> tokens;
    Duration token_refresh = std::chrono::seconds(30);
    // The bootstrap admin token's text (--bootstrap-token-file); empty: a random one, which
    // is handed once to `on_admin_token` (the agent prints it) after it is saved in `file`.
    std::string bootstrap_token;
    std::function<void(const std::filesystem::path& file, const std::string& token)> on_admin_token;
  };
  static Result<std::unique_ptr<AppService>> start(Options options, AgentControl& agent,
                                                   RaftService& raft, ArtifactStore& store,
                                                   supervisor::Supervisor& supervisor);
  ~AppService();
  AppService(const AppService&) = delete;
  AppService& operator=(const AppService&) = delete;
  void stop();
  // Runs the control loop's next turn now (after a change the leader should act on).
  void kick();

  const std::string& self() const { return opts_.self; }
  std::vector<PeerInfo> peers() const;
  // The node-to-node (--rpc) address of `node`, "" if unknown, not alive or not a Shoal node.
  std::string rpc_of(const std::string& node) const;
  // The --rpc addresses of every live Shoal node but this one (artifact peers, log fan-out).
  std::vector<std::string> other_rpc_addrs() const;

  // Catalog leader (leader_tokens.cc): pushes the token table to every live node that has
  // not taken its version, now, and waits (bounded) for them: after a token is created or
  // revoked, the answer goes out once every live node knows. Thread-safe.
  void publish_tokens();

  // ---- the catalog ----
  // This node holds a replica of the catalog group.
  bool holds_catalog() const;
  // A copy: this node's own (possibly a little stale) if it holds a replica, else fetched
  // from a node that does.
  Result<std::unique_ptr<CatalogState>> catalog();
  // `wait`: how long to wait for a leader when the group is hosted here but electing
  // (request paths wait; the control loop must not, it leads every app here).
  Result<Owner> catalog_owner(std::optional<Duration> wait = std::nullopt);
  // The app's group and owner; not_found if the catalog has no such app.
  struct AppLocation {
    raft::GroupId group = 0;
    std::vector<std::string> replicas;
    Owner owner;
  };
  Result<AppLocation> locate(const std::string& app);

  // ---- leader-side operations: REQUIRE that this node owns the group ----
  Result<CommandResult> propose(raft::GroupId group, Bytes command);
  Result<std::unique_ptr<AppState>> app_state(raft::GroupId group, bool linearizable);
  // Catalog leader: creates the app, its group on up to 3 live, undrained nodes.
  Result<nlohmann::json> create_app(const std::string& name);
  // App leader: stops the app and tells every supervisor running its instances to run
  // nothing of it, now (destroy).
  Status teardown(raft::GroupId group);
  // Catalog leader: forgets the app and deletes its group's members (their leader first
  // tells every supervisor to stop its instances).
  Result<nlohmann::json> destroy_app(const std::string& name);
  // The newest resource use of each of the group's instances as their supervisors reported
  // it to this node while it led the group (app_autoscale.cc; kept in memory, not in Raft).
  std::map<std::string, supervisor::ResourceUsage> recent_usage(raft::GroupId group) const;

 private:
  AppService(Options options, AgentControl& agent, RaftService& raft, ArtifactStore& store,
             supervisor::Supervisor& supervisor);
  void loop();
  void turn();
  void refresh_peers();
  // A copy of this node's own catalog replica; not_found if it holds none.
  Result<std::unique_ptr<CatalogState>> local_catalog();
  void maybe_bootstrap();
  void update_tags();
  size_t live_shoal_nodes() const;
  // One membership change toward `target` voters on live Shoal nodes: removes a voter
  // gossip has seen failed or left for longer than dead_voter_grace, else adds a live node
  // (learner, promoted once caught up). True if it asked for a change. `what` names the
  // group in logs ("catalog", "app").
  bool keep_voters(const raft::GroupStatus& st, size_t target, const char* what);
  void keep_catalog_voters(const raft::GroupStatus& st);
  // App leader: keeps the group at kMaxAppReplicas voters and the catalog's record of them
  // (AppRecord::replicas) equal to Raft's.
  void keep_app_replicas(const raft::GroupStatus& st, const CatalogState* cat);
  Status record_replicas(const std::string& app, const std::vector<std::string>& replicas);
  // Returns true while the app is in flux (instances placed but not yet running), so the
  // loop comes back sooner than `interval`.
  bool lead_app(raft::GroupId group, raft::Term term, const CatalogState* catalog);
  // Who leads `group`; waits up to `wait` (default Options::leader_wait) for an election.
  Result<Owner> owner_of(raft::GroupId group, const std::vector<std::string>& replicas,
                         std::optional<Duration> wait = std::nullopt);
  Status ensure_remote_member(const std::string& node, raft::GroupId group,
                              const std::vector<std::string>& voters);
  std::vector<NodeInfo> node_infos(const CatalogState* catalog) const;
  // Records `lost` for unplaced instances on nodes that are down.
  void mark_lost(raft::GroupId group, const AppState& app, const std::vector<NodeInfo>& nodes);
  // POST /v1/internal/assign to `node`; its report, or an error (failed_precondition:
  // the node has seen a newer term of the group: this leader is stale).
  Result<std::vector<InstanceReport>> push(const std::string& node, const AppState& app,
                                           raft::GroupId group, raft::Term term,
                                           const std::vector<const Instance*>& instances);

  // Catalog leader (leader_events.cc): records each node's join, failure, return and
  // departure as gossip reports it, and a leader change, in the catalog's event log.
  void note_catalog_events(raft::Term term, const CatalogState& cat);
  // Catalog leader (leader_tokens.cc): adds the bootstrap admin token once in the
  // cluster's life (DATA_DIR/admin-token), and pushes the token table to every node.
  void lead_tokens(const CatalogState& cat);
  void ensure_bootstrap_token(const CatalogState& cat);
  void push_tokens(const CatalogTokens& tokens);
  // Every node (leader_tokens.cc): until its TokenStore has a table, asks a catalog
  // replica for it (a node that just started need not wait for the next push).
  void pull_tokens();
  // App leader (leader_events.cc): records a leader change once per term and a node
  // failure that hits the app's instances (a failover episode), and counts the app's new
  // events in /metrics.
  void note_app_events(raft::GroupId group, raft::Term term, const AppState& app,
                       const std::vector<NodeInfo>& nodes);
  // app_autoscale.cc: the usage a push's report carried, kept for the autoscaler and ps.
  void note_usage(raft::GroupId group, const std::vector<supervisor::InstanceStatus>& report);
  // app_autoscale.cc: a node's router's request count for the app, from its answer to a
  // route push (leader_routes.cc), kept for the autoscaler's target_rps.
  void note_requests(raft::GroupId group, const std::string& node, uint64_t requests);
  // App leader (leader_routes.cc): pushes the app's routes (POST /v1/internal/routes) to
  // every live Shoal node when they changed, or when `route_refresh` has passed since the
  // last push, and waits for the answers (each bounded by `route_timeout`). Thread-safe
  // (teardown calls it from an HTTP worker).
  void publish_routes(raft::GroupId group, raft::Term term, const AppState& app,
                      const CatalogState* catalog);
  // Control thread: the hooks of Options (on_peers each turn, on_catalog every few seconds).
  void feed_route_store();
  // App leader: runs decide_scale() for each autoscaled type and commits what it decides.
  // True if it changed the formation.
  bool autoscale(raft::GroupId group, raft::Term term, const AppState& app);

  Options opts_;
  AgentControl& agent_;
  RaftService& raft_;
  ArtifactStore& store_;
  supervisor::Supervisor& supervisor_;

  mutable std::mutex mu_;  // guards the fields below
  std::vector<PeerInfo> peers_;
  std::map<std::string, TimePoint> dead_since_;  // voters seen failed/left, by node
  bool kicked_ = false;
  bool busy_ = false;  // control thread writes; the loop's wait reads
  bool stopping_ = false;
  std::condition_variable cv_;

  // Control thread only.
  std::map<raft::GroupId, std::set<std::string>> pushed_;  // nodes told about each app
  std::optional<bool> cat_tag_;
  int64_t mem_tag_ = -2;
  TimePoint mem_tag_at_{};
  std::thread thread_;
  // Control thread only (leader_events.cc).
  std::map<raft::GroupId, raft::Term> noted_term_;     // leader_changed proposed for this term
  std::map<raft::GroupId, uint64_t> events_counted_;  // events up to this seq are in /metrics

  mutable std::mutex usage_mu_;  // guards usage_ and request_rates_
  std::map<raft::GroupId, UsageHistory> usage_;
  std::map<raft::GroupId, RequestRate> request_rates_;  // from the route pushes' answers
  // Control thread only: per group, the term it was led in and, per type, the count last
  // seen and when it changed (a new term forgets them: a cool-down starts).
  struct ScaleMemo {
    int count = -1;
    int64_t changed_ms = 0;
  };
  struct GroupScaleMemo {
    raft::Term term = 0;
    std::map<std::string, ScaleMemo> types;
  };
  std::map<raft::GroupId, GroupScaleMemo> scale_memo_;

  // What each app led here last pushed as its routes (leader_routes.cc).
  struct RouteMemo {
    raft::Term term = 0;
    uint64_t version = 0;
    std::vector<std::string> domains;
    std::vector<router::Backend> backends;
    bool domains_known = false;  // `domains` came from the catalog at least once
    TimePoint sent_at{};
  };
  // leader_tokens.cc: per node, the token table version it took and when (guarded by
  // token_push_mu_: the control thread and token handlers push); whether a bad
  // DATA_DIR/admin-token was reported already (control thread).
  struct TokenPush {
    uint64_t version = 0;
    TimePoint at{};
  };
  std::mutex token_push_mu_;
  std::map<std::string, TokenPush> token_pushes_;
  bool admin_token_reported_ = false;
  TimePoint tokens_pulled_at_{};

  std::mutex routes_mu_;  // guards routes_ (the control thread and teardown push)
  std::map<raft::GroupId, RouteMemo> routes_;
  TimePoint catalog_fed_at_{};  // control thread only
};

}  // namespace shoal::node::apps
