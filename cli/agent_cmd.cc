// `shoal agent`: run a node in the foreground until SIGINT/SIGTERM (graceful leave) or
// POST /v1/leave. Flags and config file: node/agent_config.h.
#include <csignal>
#include <cstdio>
#include <memory>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "node/agent.h"
#include "node/agent_config.h"
#include "node/apps/node_apps.h"
#include "node/auth/admin_token.h"
#include "node/http_api.h"
#include "node/logging.h"
#include "node/loopback.h"
#include "node/metrics.h"
#include "node/node_metrics.h"
#include "node/router/route_store.h"
#include "node/router/router.h"
#include "node/router/router_metrics.h"
#include "node/serf_rpc/server.h"
#include "node/git/git_remote.h"
#include "node/tls/api_cert.h"

namespace shoal::cli {
namespace {

// Unhooks the router from the route store before the router goes (declared after it, so
// destroyed first on every return): the store's control thread outlives the router.
struct RouterHook {
  node::router::RouteStore* routes = nullptr;
  void unhook() {
    if (routes) {
      routes->set_listener(nullptr);
      routes->set_request_counter(nullptr);
    }
    routes = nullptr;
  }
  ~RouterHook() { unhook(); }
};

// The certificate the API serves, when it speaks TLS (docs/security.md, "TLS on the API"):
// the user's, or the one this node made for itself.
Result<std::optional<node::tls::ApiCert>> api_certificate(const node::AgentConfig& config) {
  if (!config.http_tls) return std::optional<node::tls::ApiCert>();
  if (config.http_tls_cert) {
    auto cert = node::tls::load_api_cert(*config.http_tls_cert, *config.http_tls_key);
    if (!cert.ok()) {
      return cert.status().with_context("--http-tls-cert");
    }
    return std::optional(std::move(*cert));
  }
  // Names a client may use: the listening and advertised IPs, the node's name.
  std::vector<std::string> hosts;
  if (!node::is_unspecified(config.http)) hosts.push_back(config.http.ip_string());
  if (!node::is_unspecified(config.advertise) &&
      config.advertise.ip_string() != config.http.ip_string()) {
    hosts.push_back(config.advertise.ip_string());
  }
  hosts.push_back(config.node_name);
  auto cert = node::tls::ensure_api_cert(config.data_dir, config.node_name, hosts);
  if (!cert.ok()) return cert.status();
  return std::optional(std::move(*cert));
}

int run_agent(const node::AgentFlags& flags) {
  auto config = node::resolve_agent_config(flags, node::AgentEnvironment::current());
  if (!config.ok()) {
    std::fprintf(stderr, "error: %s\n", config.status().message().c_str());
    return kExitUsage;
  }
  node::setup_logging(config->log_level, config->data_dir / "agent");
  std::signal(SIGPIPE, SIG_IGN);  // a peer closing a socket is an error code, not a death

  auto agent = node::Agent::create(*config);
  if (!agent.ok()) {
    spdlog::error("agent-start-failed reason=\"{}\"", agent.status().to_string());
    std::fprintf(stderr, "error: %s\n", agent.status().message().c_str());
    return kExitFailed;
  }
  auto api_cert = api_certificate(*config);
  if (!api_cert.ok()) {
    spdlog::error("agent-start-failed reason=\"{}\"", api_cert.status().to_string());
    std::fprintf(stderr, "error: %s\n", api_cert.status().message().c_str());
    return api_cert.status().is(Status::Code::invalid_argument) ? kExitUsage : kExitFailed;
  }
  if (*api_cert) {
    const auto& cert = **api_cert;
    // What a CLI shows when it pins this node on first use: compare the two.
    spdlog::info("api-tls fingerprint={} cert={} generated={}", cert.fingerprint,
                 cert.cert_file.string(), cert.generated);
    std::printf("Shoal: the API at https://%s speaks TLS; its key's fingerprint is %s\n",
                config->http.to_string().c_str(), cert.fingerprint.c_str());
    std::fflush(stdout);
  }
  if (const auto& secret = (*agent)->cluster_secret(); secret.created) {
    std::printf("\nShoal: a new cluster. Its secret, which keys node-to-node traffic, is in %s "
                "(mode 0600).\nCopy it to each node that joins, and start that node with "
                "--cluster-secret-file FILE.\n",
                secret.file.c_str());
    std::fflush(stdout);
  } else if (!secret.keys) {
    spdlog::warn("agent-insecure-rpc node-to-node traffic is plaintext (--insecure-rpc)");
  }
  std::string bootstrap_token;
  if (config->bootstrap_token_file) {
    auto text = node::auth::read_admin_token(*config->bootstrap_token_file);
    if (!text.ok()) {
      std::fprintf(stderr, "error: --bootstrap-token-file: %s\n", text.status().message().c_str());
      return kExitUsage;
    }
    bootstrap_token = *text;
  }
  {
    // The node-local token (node/auth/token_store.h): root on this node reaches its agent
    // even where the cluster has no catalog (a Shoal node among serf agents).
    const bool given = config->local_token_file.has_value();
    const auto file = given ? *config->local_token_file
                            : config->data_dir / node::auth::kNodeTokenFile;
    auto text = given ? node::auth::read_admin_token(file) : node::auth::ensure_token_file(file);
    auto parts = text.ok() ? node::auth::parse_token(*text) : Result<node::auth::TokenParts>(text.status());
    if (!parts.ok()) {
      std::fprintf(stderr, "error: %s%s\n", given ? "--local-token-file: " : "",
                   parts.status().message().c_str());
      return given ? kExitUsage : kExitFailed;
    }
    (*agent)->tokens()->set_local(*parts, "node-local " + config->node_name);
  }
  node::apps::NodeAppsOptions ao;
  ao.tokens = (*agent)->tokens();
  ao.bootstrap_token = bootstrap_token;
  ao.on_admin_token = [](const std::filesystem::path& file, const std::string& token) {
    std::printf("\nShoal: this cluster's admin API token (saved in %s, mode 0600; shown "
                "once):\n\n    %s\n\n",
                file.c_str(), token.c_str());
    std::fflush(stdout);
  };
  ao.node_name = config->node_name;
  ao.data_dir = config->data_dir;
  ao.may_bootstrap = config->join.empty();
  ao.domain = config->domain;
  ao.usage_interval = config->usage_interval;
  auto apps = node::apps::NodeApps::open(std::move(ao), **agent, *(*agent)->raft());
  if (!apps.ok()) {
    spdlog::error("agent-start-failed reason=\"{}\"", apps.status().to_string());
    std::fprintf(stderr, "error: %s\n", apps.status().message().c_str());
    return kExitFailed;
  }
  // The routing mesh (docs/router.md): the router serves whatever table the app leaders'
  // pushes last built, from the first request on.
  std::unique_ptr<node::router::Router> proxy;
  std::unique_ptr<node::router::RouterMetrics> proxy_metrics;
  RouterHook hook;
  if (config->router) {
    node::router::RouterOptions ro;
    ro.listen = *config->router;
    if (config->router_tls) ro.tls_listen = *config->router_tls;
    ro.node_name = config->node_name;
    if (config->router_access_log) ro.access_log = config->router_access_log->string();
    auto started = node::router::Router::start(ro, (*apps)->routes().table());
    if (!started.ok()) {
      spdlog::error("agent-start-failed reason=\"{}\"", started.status().to_string());
      std::fprintf(stderr, "error: %s\n", started.status().message().c_str());
      return kExitFailed;
    }
    proxy = std::move(*started);
    node::router::Router* r = proxy.get();
    (*apps)->routes().set_listener([r](auto table) { r->update(std::move(table)); });
    (*apps)->routes().set_request_counter([r](std::string_view app) { return r->requests(app); });
    hook.routes = &(*apps)->routes();
    proxy_metrics = std::make_unique<node::router::RouterMetrics>(
        node::metrics::registry(), [r] { return r->traffic(); });
  }
  node::NodeMetrics node_metrics(node::metrics::registry(), **agent, (*agent)->raft(),
                                 (*apps)->supervisor());
  node::ApiAuthOptions auth;
  auth.tokens = (*agent)->tokens();
  auth.open_health = config->open_health;
  auth.open_metrics = config->open_metrics;
  // Where a git push's hook reaches this node's API: known once the API listens.
  auto local_api = std::make_shared<node::git::LocalApi>();
  auto local_api_mu = std::make_shared<std::mutex>();
  node::git::GitRemoteOptions git;
  git.repos_dir = config->data_dir / "git";
  {
    std::error_code ec;
    git.shoal_binary = std::filesystem::read_symlink("/proc/self/exe", ec);
  }
  git.local_api = [local_api, local_api_mu] {
    std::lock_guard lock(*local_api_mu);
    return *local_api;
  };
  auto api = node::HttpApi::start(config->http, **agent, (*agent)->raft(),
                                  [&](node::HttpRouter& router) {
                                    (*apps)->add_routes(router);
                                    node::add_router_routes(router, proxy.get(),
                                                            config->node_name);
                                    node::git::add_git_routes(router, git);
                                  },
                                  &auth, *api_cert ? &(*api_cert)->pem : nullptr);
  if (!api.ok()) {
    spdlog::error("agent-start-failed reason=\"{}\"", api.status().to_string());
    std::fprintf(stderr, "error: %s\n", api.status().message().c_str());
    return kExitFailed;
  }
  {
    // The API bound to the wildcard is reached on loopback.
    auto bound = (*api)->address();
    if (node::is_unspecified(bound)) {
      bound = *gossip::Address::parse(bound.ip_len == 16 ? "::1" : "127.0.0.1", bound.port);
    }
    std::lock_guard lock(*local_api_mu);
    local_api->url = std::string(*api_cert ? "https://" : "http://") + bound.to_string();
    if (*api_cert) local_api->tls_fingerprint = (*api_cert)->fingerprint;
  }
  std::unique_ptr<node::SerfRpcServer> serf_rpc;
  if (config->rpc_serf) {
    node::SerfRpcOptions options;
    options.auth_key = config->rpc_serf_auth;
    auto server = node::SerfRpcServer::start(*config->rpc_serf, **agent, std::move(options));
    if (!server.ok()) {
      spdlog::error("agent-start-failed reason=\"{}\"", server.status().to_string());
      std::fprintf(stderr, "error: %s\n", server.status().message().c_str());
      return kExitFailed;
    }
    serf_rpc = std::move(*server);
  }
  Status st = (*agent)->run();
  (*api)->stop();  // answers in flight (e.g. POST /v1/leave) are written before this returns
  // No new requests for this node's instances once it has left: stop routing before they stop.
  if (proxy) {
    hook.unhook();
    proxy_metrics.reset();
    proxy->stop();
  }
  if (serf_rpc) serf_rpc->stop();  // likewise the answer to serf's `leave`
  // The node left the cluster: its instances are moved elsewhere, so they stop here.
  (*apps)->shutdown(/*stop_instances=*/st.ok());
  if (!st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

void add_agent_command(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("agent", "Run a Shoal node in the foreground");
  auto flags = std::make_shared<node::AgentFlags>();
  node::add_agent_flags(*cmd, *flags);
  cmd->callback([&cli, flags] { cli.exit_code = run_agent(*flags); });
}

}  // namespace shoal::cli
