#include "node/apps/node_apps.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/apps/app_service.h"
#include "node/apps/artifact_gc.h"
#include "node/apps/group_ids.h"
#include "node/apps/manifest.h"
#include "node/artifacts/artifact_store.h"
#include "node/artifacts/http_artifacts.h"
#include "node/artifacts/release_cache.h"
#include "node/duration_text.h"
#include "node/log_drain.h"
#include "node/router/route_store.h"
#include "node/supervisor/http_supervisor.h"
#include "node/supervisor/supervisor.h"

namespace shoal::node {
void add_app_routes(HttpRouter& router, apps::AppService& apps, ArtifactStore& store,
                    const std::filesystem::path& work_dir);
void add_event_log_routes(HttpRouter& router, apps::AppService& apps);  // http_api_events_log.cc
void add_log_routes(HttpRouter& router, apps::AppService& apps);  // http_api_logs.cc
void add_usage_routes(HttpRouter& router, apps::AppService& apps, AgentControl& agent,
                      supervisor::Supervisor& supervisor, RaftService& raft);  // http_api_usage.cc
void add_route_routes(HttpRouter& router, apps::AppService& apps,
                      router::RouteStore& routes);  // http_api_routes.cc
void add_token_routes(HttpRouter& router, apps::AppService& apps,
                      std::shared_ptr<auth::TokenStore> tokens);  // http_api_tokens.cc
}

namespace shoal::node::apps {

namespace {
// DATA_DIR/tmp: uploads and builds in progress; builds run there as their app's uid.
constexpr const char* kBuildDirName = "tmp";
}  // namespace

NodeApps::NodeApps(NodeAppsOptions options, AgentControl& agent, RaftService& raft)
    : opts_(std::move(options)), agent_(agent), raft_(raft) {}

NodeApps::~NodeApps() { shutdown(false); }

Result<std::unique_ptr<NodeApps>> NodeApps::open(NodeAppsOptions options, AgentControl& agent,
                                                 RaftService& raft) {
  std::unique_ptr<NodeApps> n(new NodeApps(std::move(options), agent, raft));
  const auto& dir = n->opts_.data_dir;
  // Apps run as their own unprivileged uids (when we are root) and read their release from
  // the data dir: every directory above it must let others through.
  if (::geteuid() == 0) {
    std::error_code ec;
    for (auto p = std::filesystem::absolute(dir, ec).parent_path(); !ec && p != p.root_path();
         p = p.parent_path()) {
      struct stat st {};
      if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
        spdlog::warn("data-dir-unreachable dir={} blocker={} mode={:o} reason=\"apps run as "
                     "unprivileged uids and cannot reach their releases; use a data dir under "
                     "/var/lib (the default as root) or chmod o+x {}\"",
                     dir.string(), p.string(), st.st_mode & 07777, p.string());
        break;
      }
    }
  }
  auto store = ArtifactStore::open(dir / "artifacts");
  if (!store.ok()) return store.status().with_context("cannot open the artifact store");
  n->store_ = std::move(*store);
  n->releases_ = std::make_unique<ReleaseCache>(dir, *n->store_);

  supervisor::SupervisorOptions so;
  so.node_name = n->opts_.node_name;
  so.data_dir = dir;
  so.build_dir = dir / kBuildDirName;
  so.shim_binary = n->opts_.shim_binary;
  so.usage_interval = n->opts_.usage_interval;
  ReleaseCache* cache = n->releases_.get();
  // A release is ready on this node once its slug is here, unpacked, and the OS packages
  // its manifest names are installed.
  so.prepare = [cache](const std::string& app, int64_t release, const std::string& digest,
                       const std::vector<std::string>& peers) -> Result<std::filesystem::path> {
    auto path = cache->prepare(app, static_cast<uint64_t>(release), digest, peers);
    if (!path.ok()) return path.status();
    auto manifest = load_manifest(*path);
    if (!manifest.ok()) return manifest.status().with_context("the release's manifest");
    if (!manifest->packages.empty()) {
      SHOAL_RETURN_IF_ERROR(cache->ensure_packages(manifest->packages));
    }
    return path;
  };
  auto sup = supervisor::Supervisor::open(std::move(so));
  if (!sup.ok()) return sup.status().with_context("cannot start the supervisor");
  n->supervisor_ = std::move(*sup);

  n->routes_ = std::make_unique<router::RouteStore>(n->opts_.domain);
  router::RouteStore* routes = n->routes_.get();

  AppService::Options ao;
  ao.self = n->opts_.node_name;
  // The route store leaves out instances on nodes gossip holds down, and forgets apps the
  // catalog no longer has.
  ao.on_peers = [routes](const std::vector<PeerInfo>& peers) {
    std::set<std::string> down;
    for (const auto& p : peers) {
      if (p.status == gossip::MemberStatus::failed || p.status == gossip::MemberStatus::left) {
        down.insert(p.name);
      }
    }
    routes->set_down_nodes(std::move(down));
  };
  // It also takes the custom domains' certificates from it, for the router's TLS listener.
  ao.on_catalog = [routes](const CatalogState& cat) {
    std::map<std::string, uint64_t> apps;
    router::RouteTable::TlsMap tls;
    for (const auto& [name, rec] : cat.apps()) {
      apps[name] = rec.group;
      for (const auto& [host, pair] : rec.tls) tls[host] = router::TlsPem{pair.cert, pair.key};
    }
    routes->retain_apps(apps, app_group(cat.next_app_seq()));
    routes->set_tls(std::move(tls));
  };
  ao.may_bootstrap = n->opts_.may_bootstrap;
  ao.data_dir = dir;
  ao.tokens = n->opts_.tokens;
  ao.bootstrap_token = n->opts_.bootstrap_token;
  ao.on_admin_token = n->opts_.on_admin_token;
  // Tests shorten how long a failed node's Raft seats wait before they are given away.
  SHOAL_RETURN_IF_ERROR(
      duration_from_env_ms("SHOAL_DEAD_VOTER_GRACE_MS", 0, &ao.dead_voter_grace));
  auto service = AppService::start(std::move(ao), agent, raft, *n->store_, *n->supervisor_);
  if (!service.ok()) return service.status();
  n->service_ = std::move(*service);

  auto gc_options = gc_options_from_env();
  if (!gc_options.ok()) return gc_options.status();
  AppService* svc = n->service_.get();
  n->gc_ = ArtifactGc::start(
      *gc_options,
      ArtifactGc::Deps{
          raft, *n->supervisor_, *n->store_, *n->releases_,
          [svc]() -> Result<std::map<std::string, raft::GroupId>> {
            auto cat = svc->catalog();
            if (!cat.ok()) return cat.status();
            std::map<std::string, raft::GroupId> apps;
            for (const auto& [name, rec] : (*cat)->apps()) apps[name] = rec.group;
            return apps;
          },
          [svc] { return svc->other_rpc_addrs(); }});

  supervisor::Supervisor* supervisor = n->supervisor_.get();
  LogDrains::Sources drains;
  drains.node = n->opts_.node_name;
  drains.drains = [svc]() -> Result<std::vector<std::string>> {
    auto cat = svc->catalog();
    if (!cat.ok()) return cat.status();
    std::vector<std::string> urls;
    for (const auto& [key, value] : (*cat)->settings()) {
      if (std::string url = drain_of_setting_key(key); !url.empty()) urls.push_back(url);
    }
    return urls;
  };
  drains.logs = [supervisor] {
    std::map<std::string, std::vector<supervisor::LogSource>> out;
    for (const auto& app : supervisor->apps()) out[app] = supervisor->log_sources(app, "", "");
    return out;
  };
  n->drains_ = std::make_unique<LogDrains>(std::move(drains), LogDrains::Options{});
  n->drains_->start();
  return n;
}

void NodeApps::add_routes(HttpRouter& router) {
  add_app_routes(router, *service_, *store_, opts_.data_dir / kBuildDirName);
  add_event_log_routes(router, *service_);
  add_log_routes(router, *service_);
  add_usage_routes(router, *service_, agent_, *supervisor_, raft_);
  add_route_routes(router, *service_, *routes_);
  supervisor::add_supervisor_routes(router, *supervisor_, opts_.data_dir / "agent");
  add_artifact_routes(router, *store_);
  if (opts_.tokens) add_token_routes(router, *service_, opts_.tokens);
}

void NodeApps::shutdown(bool stop_instances) {
  if (drains_) drains_->stop();
  if (gc_) gc_->stop();
  if (service_) service_->stop();
  if (stop_instances && supervisor_) {
    Status s = supervisor_->stop_all(std::chrono::seconds(15));
    spdlog::info("instances-stopped reason=\"the node left the cluster\" result=\"{}\"",
                 s.ok() ? "ok" : s.to_string());
  }
}

}  // namespace shoal::node::apps
