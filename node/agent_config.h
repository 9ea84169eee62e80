// node/agent_config.h
//
// AgentConfig: everything `shoal agent` needs to start, resolved from three layers, each
// overriding the one before: built-in defaults, a TOML file (--config FILE), command-line
// flags. The same keys exist in both places:
//
//   flag                 TOML key     default
//   --node NAME          node         the host name
//   --bind ADDR:PORT     bind         127.0.0.1:7946   (gossip, UDP and TCP)
//   --advertise ADDR:PORT advertise   = bind
//   --join ADDR          join = [..]  none; repeatable; file and flag lists are concatenated
//   --retry-max N        retry_max    0 (retry joining forever)
//   --tag k=v            tags = {k="v"}  none; a flag tag replaces a file tag of the same key
//   --data-dir DIR       data_dir     /var/lib/shoal/<node> as root, else $HOME/.shoal/<node>, or ./data/<node> without HOME
//   --profile P          profile      lan  (lan | wan | local)
//   --http ADDR:PORT     http         127.0.0.1:8080
//   --rpc ADDR:PORT      rpc          the --bind address, gossip port + 1 (Raft, node-to-node)
//   --raft-snapshot-entries N  raft_snapshot_entries  10000 (applied entries between snapshots)
//   --rpc-serf ADDR[:PORT] rpc_serf   off (port 7373); Serf's agent RPC for the `serf` CLI (docs/serf-rpc.md)
//   --rpc-serf-auth KEY  rpc_serf_auth none; clients must `auth` with it first (serf's -rpc-auth)
//   --log-level L        log_level    info (trace | debug | info | warn | error)
//   --encrypt KEY        encrypt      none; base64 of 32 bytes (`shoal keygen`); seeds
//                                     DATA_DIR/keyring.json (node/keyring_file.h)
//   --event-handler [FILTER=]SCRIPT   event_handlers = [..]  none; repeatable; file and
//                                     flag lists are concatenated (node/event_filter.h)
//   --event-handler-timeout D  event_handler_timeout  30s (a handler is killed past it)
//   --router ADDR:PORT   router       127.0.0.1:8000; `off` disables it (docs/router.md)
//   --router-tls ADDR[:PORT]  router_tls  off (port 8443); the router's HTTPS listener,
//                                     serving the custom domains that have a certificate
//   --router-access-log PATH  router_access_log  DATA_DIR/router-access.log; `off`: none
//   --domain DOMAIN      domain       localhost: apps answer as APP.DOMAIN on the router
//   --usage-interval D   usage_interval  1s: how often instances and the node are sampled
//                                     (docs/reporting.md); `off`: never (no usage, no history,
//                                     no CPU autoscaling)
//   --open-endpoints LIST  open_endpoints  health,metrics: which of GET /v1/health and
//                                     /metrics answer without an API token (`none`: neither)
//   --bootstrap-token-file PATH  bootstrap_token_file  none: the admin token a new cluster
//                                     starts with is random (docs/security.md)
//   --local-token-file PATH  local_token_file  DATA_DIR/node-token (made at first start):
//                                     the token this node accepts as its own admin's
//   --cluster-secret-file PATH  cluster_secret_file  DATA_DIR/cluster-secret: the secrets
//                                     of the node-to-node channel (docs/security.md); a new
//                                     cluster makes one, a joining node must be given it
//   --insecure-rpc       insecure_rpc false: node-to-node traffic in plaintext, for
//                                     measuring what the channel costs; --rpc must be loopback
//   --http-tls-cert PATH, --http-tls-key PATH  http_tls_cert, http_tls_key  none: the API's
//                                     certificate chain and key (PEM); given, the API speaks
//                                     TLS; off loopback without them it speaks TLS with one it
//                                     makes (DATA_DIR/api-tls/, docs/security.md)
//   --http-tls           http_tls     false: TLS on a loopback --http too
//
// Contract:
//  - Pure: reads the config file and the environment given to it, nothing else.
//  - Every error is invalid_argument (io_error for an unreadable file) and names the flag
//    or key and the bad value, so the CLI can print it as is and exit with a usage code.
//  - Not thread-safe; called once at startup.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "gossip/address.h"
#include "gossip/config.h"
#include "node/event_filter.h"

namespace CLI {
class App;
}

namespace shoal::node {

inline constexpr uint16_t kDefaultGossipPort = 7946;
inline constexpr uint16_t kDefaultHttpPort = 8080;
inline constexpr uint16_t kDefaultSerfRpcPort = 7373;  // serf's -rpc-addr default
// The router's default: loopback, like the API, so a node publishes its apps to the network
// only when asked (--router 0.0.0.0:80); 8000 needs no privilege, and APP.localhost:8000
// works from a browser on the node as is (*.localhost resolves to loopback).
inline constexpr uint16_t kDefaultRouterPort = 8000;
inline constexpr uint16_t kDefaultRouterTlsPort = 8443;

enum class LogLevel { trace, debug, info, warn, error };
std::string_view to_string(LogLevel level);
Result<LogLevel> parse_log_level(std::string_view text);

struct AgentConfig {
  std::string node_name;
  gossip::Address bind;
  gossip::Address advertise;
  std::vector<std::string> join;  // as given: "IP[:PORT]"; checked to parse at load time
  int retry_max = 0;              // join attempts before giving up; 0 = forever
  bool rejoin_after_leave = false;  // restart after a graceful leave rejoins the snapshot's peers
  std::map<std::string, std::string> tags;
  std::filesystem::path data_dir;
  std::string profile = "lan";
  gossip::Address http;
  gossip::Address rpc;  // node-to-node TCP (Raft); peers find it as gossip port + 1 or tag rpc
  uint64_t raft_snapshot_entries = 10000;
  std::optional<gossip::Address> rpc_serf;  // Serf's agent RPC; off unless set
  std::string rpc_serf_auth;                // empty: no auth
  LogLevel log_level = LogLevel::info;
  std::optional<Bytes> encrypt_key;  // decoded and length-checked
  std::vector<EventHandlerSpec> event_handlers;  // parsed and checked
  Duration event_handler_timeout = std::chrono::seconds(30);
  std::optional<gossip::Address> router;  // the HTTP router (docs/router.md); nullopt: off
  std::optional<gossip::Address> router_tls;  // its HTTPS listener; nullopt: off
  std::optional<std::filesystem::path> router_access_log;  // nullopt: none (or no router)
  std::string domain = "localhost";       // the cluster's domain: APP.DOMAIN, lower case
  Duration usage_interval = std::chrono::seconds(1);  // zero: sampling off
  bool open_health = true;   // GET /v1/health needs no token
  bool open_metrics = true;  // GET /metrics needs no token
  std::optional<std::filesystem::path> bootstrap_token_file;
  std::optional<std::filesystem::path> local_token_file;  // nullopt: DATA_DIR/node-token
  std::optional<std::filesystem::path> cluster_secret_file;  // nullopt: DATA_DIR/cluster-secret
  bool insecure_rpc = false;
  // The API over TLS: always off loopback, or when asked (--http-tls) or given a certificate.
  bool http_tls = false;
  std::optional<std::filesystem::path> http_tls_cert;  // with http_tls_key; nullopt: generated
  std::optional<std::filesystem::path> http_tls_key;

  // The gossip core's configuration for this agent (profile timings, name, tags).
  gossip::SerfConfig serf_config() const;
};

// The raw flag values, before merging: unset flags stay empty so the file can fill them.
struct AgentFlags {
  std::optional<std::string> config_file;
  std::optional<std::string> node;
  std::optional<std::string> bind;
  std::optional<std::string> advertise;
  std::vector<std::string> join;
  std::optional<int> retry_max;
  bool rejoin_after_leave = false;  // a switch: set by the flag or the file, never unset
  std::vector<std::string> tags;
  std::optional<std::string> data_dir;
  std::optional<std::string> profile;
  std::optional<std::string> http;
  std::optional<std::string> rpc;
  std::optional<int64_t> raft_snapshot_entries;
  std::optional<std::string> rpc_serf;
  std::optional<std::string> rpc_serf_auth;
  std::optional<std::string> log_level;
  std::optional<std::string> encrypt;
  std::vector<std::string> event_handlers;
  std::optional<std::string> event_handler_timeout;
  std::optional<std::string> router;
  std::optional<std::string> router_tls;
  std::optional<std::string> router_access_log;
  std::optional<std::string> domain;
  std::optional<std::string> usage_interval;
  std::optional<std::string> open_endpoints;
  std::optional<std::string> bootstrap_token_file;
  std::optional<std::string> local_token_file;
  std::optional<std::string> cluster_secret_file;
  bool insecure_rpc = false;  // a switch, as rejoin_after_leave
  bool http_tls = false;      // likewise
  std::optional<std::string> http_tls_cert;
  std::optional<std::string> http_tls_key;
};

// What the defaults depend on, injected so tests do not depend on the machine.
struct AgentEnvironment {
  std::string hostname;
  std::optional<std::string> home;  // $HOME
  // Running as root: the default data dir is /var/lib/shoal/NODE, because apps run as
  // unprivileged uids that must reach their releases, and root's home is closed to them.
  bool root = false;
  static AgentEnvironment current();
};

// Registers the flags above on `cmd`, writing into `flags` (which must outlive `cmd`).
void add_agent_flags(CLI::App& cmd, AgentFlags& flags);

// Merges defaults, the file named by flags.config_file (if any) and the flags, and
// validates the result.
Result<AgentConfig> resolve_agent_config(const AgentFlags& flags, const AgentEnvironment& env);

// Parses the TOML text of a config file into flag form (`origin` names it in errors).
// Unknown keys and wrongly typed values are errors naming the key.
Result<AgentFlags> parse_config_toml(std::string_view text, std::string_view origin);

// "k=v" -> {k, v}. The key must be non-empty; the value may be empty or contain '='.
Result<std::pair<std::string, std::string>> parse_tag(std::string_view text);

}  // namespace shoal::node
