// node/apps/node_apps.h
//
// NodeApps: the apps layer of one agent, opened together: the artifact store
// (DATA_DIR/artifacts), the release cache (DATA_DIR/releases), the supervisor
// (DATA_DIR/supervisor), the AppService that drives them and the artifact GC that keeps
// the first two bounded (artifact_gc.h), the RouteStore the app leaders feed
// (docs/router.md), the log drains that forward this node's app lines (log_drain.h); and
// their HTTP routes.
//
// Lifecycle: open() after the Agent (it needs the Raft host and the gossip view) starts the
// control loop; add_routes() before the HTTP API starts; shutdown(leaving) after the
// agent's run() returns — a node that leaves the cluster stops its instances (the cluster
// moves them), a node that merely stops keeps them running for its next start to re-adopt.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "base/time.h"
#include "node/agent_control.h"
#include "node/auth/token_store.h"
#include "node/http_server.h"
#include "node/raft_service.h"

namespace shoal::node {
class ArtifactStore;
class LogDrains;
class ReleaseCache;
namespace supervisor {
class Supervisor;
}
namespace router {
class RouteStore;
}
namespace apps {
class AppService;
class ArtifactGc;

struct NodeAppsOptions {
  std::string node_name;
  std::filesystem::path data_dir;
  bool may_bootstrap = false;  // started without --join
  std::string shim_binary;     // "" = this executable
  std::string domain = "localhost";  // --domain: apps answer as APP.DOMAIN (docs/router.md)
  Duration usage_interval = std::chrono::seconds(1);  // --usage-interval; zero: off
  // API tokens (docs/security.md): the node's TokenStore (the Agent's), which the catalog
  // leader's pushes feed; and the bootstrap admin token's text (empty: a random one).
  std::shared_ptr<auth::TokenStore> tokens;
  std::string bootstrap_token;
  std::function<void(const std::filesystem::path& file, const std::string& token)> on_admin_token;
};

class NodeApps {
 public:
  static Result<std::unique_ptr<NodeApps>> open(NodeAppsOptions options, AgentControl& agent,
                                                RaftService& raft);
  ~NodeApps();
  NodeApps(const NodeApps&) = delete;
  NodeApps& operator=(const NodeApps&) = delete;

  void add_routes(HttpRouter& router);
  // Stops the control loop; with `stop_instances`, every instance of this node too.
  void shutdown(bool stop_instances);

  AppService* service() { return service_.get(); }
  supervisor::Supervisor* supervisor() { return supervisor_.get(); }
  // What the app leaders pushed to this node: the routes its Router serves (hook it with
  // routes().set_listener()). Lives as long as this NodeApps, past shutdown().
  router::RouteStore& routes() { return *routes_; }

 private:
  NodeApps(NodeAppsOptions options, AgentControl& agent, RaftService& raft);
  NodeAppsOptions opts_;
  AgentControl& agent_;
  RaftService& raft_;
  std::unique_ptr<router::RouteStore> routes_;  // before service_: its hooks feed it
  std::unique_ptr<ArtifactStore> store_;
  std::unique_ptr<ReleaseCache> releases_;
  std::unique_ptr<supervisor::Supervisor> supervisor_;
  std::unique_ptr<AppService> service_;
  std::unique_ptr<ArtifactGc> gc_;  // its own thread (artifact_gc.h)
  std::unique_ptr<LogDrains> drains_;  // its own thread (log_drain.h)
};

}  // namespace apps
}  // namespace shoal::node
