#include "node/agent_config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <cstdlib>
#include <toml++/toml.h>

#include "gossip/keyring.h"
#include "node/apps/names.h"
#include "node/duration_text.h"
#include "node/loopback.h"

namespace shoal::node {
namespace {

Status flag_error(std::string_view flag, std::string_view detail) {
  return Status::invalid_argument(std::string(flag) + ": " + std::string(detail));
}

// An address we listen on or advertise: IP[:PORT], no DNS, no port 0.
Result<gossip::Address> parse_listen_address(std::string_view flag, std::string_view text,
                                             uint16_t default_port) {
  auto addr = gossip::Address::parse(text, default_port);
  if (!addr.ok()) return flag_error(flag, addr.status().message());
  if (addr->port == 0) {
    return flag_error(flag, "'" + std::string(text) + "': port 0 is not allowed (peers and "
                            "clients must know the port)");
  }
  return addr;
}


// Two TCP listeners that cannot both bind: one port, one family, and the same address or
// a wildcard on either side. Port 0 (any free port) clashes with nothing.
bool listeners_clash(const gossip::Address& a, const gossip::Address& b) {
  if (a.port == 0 || a.port != b.port || a.ip_len != b.ip_len) return false;
  return a == b || is_unspecified(a) || is_unspecified(b);
}

Status check_node_name(const std::string& flag, std::string_view name) {
  if (name.empty()) return flag_error(flag, "the node name must not be empty");
  if (name.size() > 128) return flag_error(flag, "the node name is longer than 128 bytes");
  for (char c : name) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return flag_error(flag, "'" + std::string(name) +
                                      "': a node name may not contain '/' or control characters");
    }
  }
  if (name == "." || name == "..") return flag_error(flag, "'.' and '..' are not node names");
  return Status();
}

// Reads one TOML value of the expected type, or an error naming the key.
template <typename T>
Result<T> toml_get(const toml::node& value, std::string_view key, std::string_view origin,
                   std::string_view type_name) {
  if (auto v = value.value_exact<T>()) return *v;
  return Status::invalid_argument(std::string(origin) + ": key '" + std::string(key) +
                                  "' must be " + std::string(type_name));
}

}  // namespace

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

Result<LogLevel> parse_log_level(std::string_view text) {
  for (LogLevel l : {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn,
                     LogLevel::error}) {
    if (text == to_string(l)) return l;
  }
  return Status::invalid_argument("unknown log level '" + std::string(text) +
                                  "' (choose trace, debug, info, warn or error)");
}

gossip::SerfConfig AgentConfig::serf_config() const {
  gossip::SerfConfig c;
  c.node_name = node_name;
  c.advertise = advertise;
  c.tags = tags;
  auto profile_config = gossip::Config::by_name(profile);
  c.memberlist = profile_config.ok() ? *profile_config : gossip::Config::lan();
  return c;
}

AgentEnvironment AgentEnvironment::current() {
  AgentEnvironment env;
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) == 0) env.hostname = host;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') env.home = home;
  env.root = ::geteuid() == 0;
  return env;
}

Result<std::pair<std::string, std::string>> parse_tag(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    return Status::invalid_argument("tag '" + std::string(text) + "' must look like key=value");
  }
  if (eq == 0) {
    return Status::invalid_argument("tag '" + std::string(text) + "' has an empty key");
  }
  return std::pair{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

void add_agent_flags(CLI::App& cmd, AgentFlags& f) {
  cmd.add_option("--config", f.config_file, "TOML file with the same keys as these flags");
  cmd.add_option("--node", f.node, "Node name, unique in the cluster (default: host name)");
  cmd.add_option("--bind", f.bind, "Gossip address, UDP and TCP (default 127.0.0.1:7946)");
  cmd.add_option("--advertise", f.advertise, "Address peers use to reach us (default: --bind)");
  cmd.add_option("--join", f.join, "Peer to join, IP[:PORT]; repeatable; retried with backoff");
  cmd.add_option("--retry-max", f.retry_max, "Join attempts before giving up (0: forever)");
  cmd.add_flag("--rejoin-after-leave", f.rejoin_after_leave,
               "After a graceful leave, a restart still rejoins the peers in the snapshot");
  cmd.add_option("--tag", f.tags, "Node tag key=value; repeatable");
  cmd.add_option("--data-dir", f.data_dir,
                 "State directory (default: /var/lib/shoal/NODE as root, else $HOME/.shoal/NODE, or ./data/NODE)");
  cmd.add_option("--profile", f.profile, "Gossip timings: lan, wan or local (default lan)");
  cmd.add_option("--http", f.http, "HTTP API address (default 127.0.0.1:8080)");
  cmd.add_option("--raft-snapshot-entries", f.raft_snapshot_entries,
                 "Applied Raft entries between snapshots of a group (default 10000; also at least "
                 "the last snapshot's size in bytes)");
  cmd.add_option("--rpc", f.rpc, "Node-to-node (Raft) TCP address (default: --bind's port + 1)");
  cmd.add_option("--rpc-serf", f.rpc_serf,
                 "Serf agent RPC address for the stock `serf` CLI, ADDR:PORT (default: off)");
  cmd.add_option("--rpc-serf-auth", f.rpc_serf_auth,
                 "Key Serf RPC clients must send with `auth` first (serf's -rpc-auth)");
  cmd.add_option("--router", f.router,
                 "HTTP router address, ADDR:PORT, or off (default 127.0.0.1:8000)");
  cmd.add_option("--router-tls", f.router_tls,
                 "HTTPS listener of the router, ADDR[:PORT] (default off; port 8443): custom "
                 "domains with a certificate (`shoal domains add --cert --key`)");
  cmd.add_option("--router-access-log", f.router_access_log,
                 "File of one line per routed request, or off (default "
                 "DATA_DIR/router-access.log; moved to PATH.1 at 64 MiB)");
  cmd.add_option("--domain", f.domain,
                 "Cluster domain: the router serves app APP as APP.DOMAIN (default localhost)");
  cmd.add_option("--log-level", f.log_level, "trace, debug, info, warn or error (default info)");
  cmd.add_option("--encrypt", f.encrypt,
                 "Gossip encryption key, base64 of 32 bytes (shoal keygen); first start only");
  cmd.add_option("--event-handler", f.event_handlers,
                 "[FILTER=]SCRIPT run by /bin/sh for events, as serf's -event-handler; "
                 "FILTER: member-join,member-leave,member-failed,member-update,member-reap,"
                 "user[:NAME],query[:NAME] or * (default *); repeatable");
  cmd.add_option("--event-handler-timeout", f.event_handler_timeout,
                 "Kill an event handler running longer than this (default 30s)");
  cmd.add_option("--usage-interval", f.usage_interval,
                 "How often instances and the node are sampled for CPU and memory "
                 "(default 1s; off: never, and CPU autoscaling has nothing to go on)");
  cmd.add_option("--open-endpoints", f.open_endpoints,
                 "Which of health (GET /v1/health) and metrics (GET /metrics) answer without "
                 "an API token: a comma list, or none (default health,metrics)");
  cmd.add_option("--bootstrap-token-file", f.bootstrap_token_file,
                 "File holding the admin token a new cluster starts with (default: a random "
                 "one, shown once and saved as DATA_DIR/admin-token)");
  cmd.add_option("--local-token-file", f.local_token_file,
                 "File holding the token this node accepts as its own admin's, whatever the "
                 "cluster's tokens (default DATA_DIR/node-token, made at first start)");
  cmd.add_option("--cluster-secret-file", f.cluster_secret_file,
                 "File holding the cluster secret(s) that key node-to-node traffic (default "
                 "DATA_DIR/cluster-secret; a new cluster makes one, a joining node needs the "
                 "cluster's)");
  cmd.add_flag("--insecure-rpc", f.insecure_rpc,
               "Node-to-node traffic in plaintext, for measuring what encryption costs; only "
               "with a loopback --rpc");
  cmd.add_option("--http-tls-cert", f.http_tls_cert,
                 "PEM certificate chain the API serves over TLS (with --http-tls-key; default: "
                 "off loopback, one the node makes and keeps in DATA_DIR/api-tls)");
  cmd.add_option("--http-tls-key", f.http_tls_key, "PEM private key of --http-tls-cert");
  cmd.add_flag("--http-tls", f.http_tls,
               "Serve the API over TLS on a loopback --http too (always so off loopback)");
}

Result<AgentFlags> parse_config_toml(std::string_view text, std::string_view origin) {
  toml::table table;
  try {
    table = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return Status::invalid_argument(
        std::string(origin) + ":" + std::to_string(e.source().begin.line) + ":" +
        std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
  }
  AgentFlags out;
  const std::string where(origin);
  auto get_string = [&](const toml::node& v, std::string_view key,
                        std::optional<std::string>& into) -> Status {
    auto s = toml_get<std::string>(v, key, origin, "a string");
    if (!s.ok()) return s.status();
    into = std::move(*s);
    return Status();
  };
  for (const auto& [key_node, value] : table) {
    const std::string key(key_node.str());
    Status st;
    if (key == "node") {
      st = get_string(value, key, out.node);
    } else if (key == "bind") {
      st = get_string(value, key, out.bind);
    } else if (key == "advertise") {
      st = get_string(value, key, out.advertise);
    } else if (key == "data_dir") {
      st = get_string(value, key, out.data_dir);
    } else if (key == "profile") {
      st = get_string(value, key, out.profile);
    } else if (key == "http") {
      st = get_string(value, key, out.http);
    } else if (key == "rpc") {
      st = get_string(value, key, out.rpc);
    } else if (key == "router") {
      st = get_string(value, key, out.router);
    } else if (key == "router_tls") {
      st = get_string(value, key, out.router_tls);
    } else if (key == "router_access_log") {
      st = get_string(value, key, out.router_access_log);
    } else if (key == "domain") {
      st = get_string(value, key, out.domain);
    } else if (key == "open_endpoints") {
      st = get_string(value, key, out.open_endpoints);
    } else if (key == "bootstrap_token_file") {
      st = get_string(value, key, out.bootstrap_token_file);
    } else if (key == "local_token_file") {
      st = get_string(value, key, out.local_token_file);
    } else if (key == "cluster_secret_file") {
      st = get_string(value, key, out.cluster_secret_file);
    } else if (key == "insecure_rpc") {
      const auto b = value.value_exact<bool>();
      if (!b) return Status::invalid_argument(where + ": key 'insecure_rpc' must be true or false");
      out.insecure_rpc = *b;
    } else if (key == "http_tls") {
      const auto b = value.value_exact<bool>();
      if (!b) return Status::invalid_argument(where + ": key 'http_tls' must be true or false");
      out.http_tls = *b;
    } else if (key == "http_tls_cert") {
      st = get_string(value, key, out.http_tls_cert);
    } else if (key == "http_tls_key") {
      st = get_string(value, key, out.http_tls_key);
    } else if (key == "rpc_serf") {
      st = get_string(value, key, out.rpc_serf);
    } else if (key == "rpc_serf_auth") {
      st = get_string(value, key, out.rpc_serf_auth);
    } else if (key == "raft_snapshot_entries") {
      auto n = toml_get<int64_t>(value, key, origin, "an integer");
      if (!n.ok()) return n.status();
      out.raft_snapshot_entries = *n;
    } else if (key == "log_level") {
      st = get_string(value, key, out.log_level);
    } else if (key == "encrypt") {
      st = get_string(value, key, out.encrypt);
    } else if (key == "retry_max") {
      auto n = toml_get<int64_t>(value, key, origin, "an integer");
      if (!n.ok()) return n.status();
      if (*n < 0 || *n > INT_MAX) {
        return Status::invalid_argument(where + ": key 'retry_max' must be between 0 and " +
                                        std::to_string(INT_MAX));
      }
      out.retry_max = static_cast<int>(*n);
    } else if (key == "rejoin_after_leave") {
      const auto b = value.value_exact<bool>();
      if (!b) return Status::invalid_argument(where + ": key 'rejoin_after_leave' must be true or false");
      out.rejoin_after_leave = *b;
    } else if (key == "event_handler_timeout") {
      st = get_string(value, key, out.event_handler_timeout);
    } else if (key == "usage_interval") {
      st = get_string(value, key, out.usage_interval);
    } else if (key == "event_handlers") {
      const auto* arr = value.as_array();
      if (arr == nullptr) {
        return Status::invalid_argument(where + ": key 'event_handlers' must be an array of "
                                                "strings, like [\"user:deploy=/bin/deploy\"]");
      }
      for (const auto& item : *arr) {
        auto s = item.value_exact<std::string>();
        if (!s) {
          return Status::invalid_argument(where +
                                          ": key 'event_handlers' must be an array of strings");
        }
        out.event_handlers.push_back(*s);
      }
    } else if (key == "join") {
      const auto* arr = value.as_array();
      if (arr == nullptr) {
        return Status::invalid_argument(where + ": key 'join' must be an array of strings");
      }
      for (const auto& item : *arr) {
        auto s = item.value_exact<std::string>();
        if (!s) {
          return Status::invalid_argument(where + ": key 'join' must be an array of strings");
        }
        out.join.push_back(*s);
      }
    } else if (key == "tags") {
      const auto* tags = value.as_table();
      if (tags == nullptr) {
        return Status::invalid_argument(where + ": key 'tags' must be a table of strings, "
                                                "like tags = { role = \"web\" }");
      }
      for (const auto& [tag_key, tag_value] : *tags) {
        auto s = tag_value.value_exact<std::string>();
        if (!s) {
          return Status::invalid_argument(where + ": tag '" + std::string(tag_key.str()) +
                                          "' must be a string");
        }
        out.tags.push_back(std::string(tag_key.str()) + "=" + *s);
      }
    } else {
      return Status::invalid_argument(
          where + ": unknown key '" + key +
          "' (known: node, bind, advertise, join, retry_max, rejoin_after_leave, tags, data_dir, "
          "profile, http, rpc, rpc_serf, rpc_serf_auth, raft_snapshot_entries, log_level, "
          "encrypt, event_handlers, event_handler_timeout, router, router_tls, router_access_log, "
          "domain, usage_interval, open_endpoints, bootstrap_token_file, local_token_file, cluster_secret_file, insecure_rpc, "
          "http_tls, http_tls_cert, http_tls_key)");
    }
    if (!st.ok()) return st;
  }
  return out;
}

namespace {

Result<AgentFlags> load_config_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::invalid_argument("--config: '" + path + "' is not a readable file");
  }
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > (1u << 20)) {
    return Status::invalid_argument("--config: '" + path + "' is larger than 1 MiB");
  }
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Status::io_error("--config: cannot open '" + path + "': " + std::strerror(errno));
  }
  std::string text(size, '\0');
  size_t got = std::fread(text.data(), 1, size, f);
  std::fclose(f);
  text.resize(got);
  return parse_config_toml(text, path);
}

// Layer `over` on top of `base`: set scalars win, lists are concatenated.
AgentFlags merge(AgentFlags base, const AgentFlags& over) {
  auto take = [](auto& into, const auto& from) {
    if (from) into = from;
  };
  take(base.node, over.node);
  take(base.bind, over.bind);
  take(base.advertise, over.advertise);
  take(base.retry_max, over.retry_max);
  base.rejoin_after_leave = base.rejoin_after_leave || over.rejoin_after_leave;
  take(base.data_dir, over.data_dir);
  take(base.profile, over.profile);
  take(base.http, over.http);
  take(base.rpc, over.rpc);
  take(base.raft_snapshot_entries, over.raft_snapshot_entries);
  take(base.rpc_serf, over.rpc_serf);
  take(base.rpc_serf_auth, over.rpc_serf_auth);
  take(base.log_level, over.log_level);
  take(base.encrypt, over.encrypt);
  take(base.event_handler_timeout, over.event_handler_timeout);
  take(base.router, over.router);
  take(base.router_tls, over.router_tls);
  take(base.router_access_log, over.router_access_log);
  take(base.domain, over.domain);
  take(base.usage_interval, over.usage_interval);
  take(base.open_endpoints, over.open_endpoints);
  take(base.bootstrap_token_file, over.bootstrap_token_file);
  take(base.local_token_file, over.local_token_file);
  take(base.cluster_secret_file, over.cluster_secret_file);
  base.insecure_rpc = base.insecure_rpc || over.insecure_rpc;
  base.http_tls = base.http_tls || over.http_tls;
  take(base.http_tls_cert, over.http_tls_cert);
  take(base.http_tls_key, over.http_tls_key);
  base.join.insert(base.join.end(), over.join.begin(), over.join.end());
  base.event_handlers.insert(base.event_handlers.end(), over.event_handlers.begin(),
                             over.event_handlers.end());
  base.tags.insert(base.tags.end(), over.tags.begin(), over.tags.end());  // later wins
  return base;
}

}  // namespace

Result<AgentConfig> resolve_agent_config(const AgentFlags& flags, const AgentEnvironment& env) {
  // Errors name where the bad value came from: the flag, or the file and its key.
  auto src = [&](std::string_view flag, bool from_flag) -> std::string {
    if (from_flag || !flags.config_file) return std::string(flag);
    std::string key(flag.substr(2));
    for (char& ch : key) {
      if (ch == '-') ch = '_';
    }
    return *flags.config_file + ": key '" + key + "'";
  };
  auto in = [](const std::vector<std::string>& list, const std::string& v) {
    return std::find(list.begin(), list.end(), v) != list.end();
  };
  AgentFlags merged;
  if (flags.config_file) {
    auto file = load_config_file(*flags.config_file);
    if (!file.ok()) return file.status();
    merged = merge(std::move(*file), flags);
  } else {
    merged = flags;
  }

  AgentConfig c;
  c.node_name = merged.node.value_or(env.hostname);
  if (!merged.node && c.node_name.empty()) {
    return flag_error("--node", "no host name to default to; give the node a name");
  }
  SHOAL_RETURN_IF_ERROR(check_node_name(src("--node", flags.node.has_value()), c.node_name));

  auto bind = parse_listen_address(src("--bind", flags.bind.has_value()), merged.bind.value_or("127.0.0.1"),
                                   kDefaultGossipPort);
  if (!bind.ok()) return bind.status();
  c.bind = *bind;

  if (merged.advertise) {
    auto adv = parse_listen_address(src("--advertise", flags.advertise.has_value()), *merged.advertise, c.bind.port);
    if (!adv.ok()) return adv.status();
    if (is_unspecified(*adv)) {
      return flag_error(src("--advertise", flags.advertise.has_value()), "'" + *merged.advertise +
                                           "' is not an address peers can reach");
    }
    c.advertise = *adv;
  } else {
    if (is_unspecified(c.bind)) {
      return flag_error("--advertise", "required when --bind is " + c.bind.to_string() +
                                           " (peers cannot reach an unspecified address)");
    }
    c.advertise = c.bind;
  }

  for (const auto& j : merged.join) {
    auto addr = gossip::Address::parse(j, kDefaultGossipPort);
    const std::string name = src("--join", in(flags.join, j));
    if (!addr.ok()) return flag_error(name, addr.status().message());
    if (addr->port == 0) return flag_error(name, "'" + j + "': port 0 is not a peer");
    c.join.push_back(j);
  }

  c.retry_max = merged.retry_max.value_or(0);
  if (c.retry_max < 0) {
    return flag_error(src("--retry-max", flags.retry_max.has_value()), std::to_string(c.retry_max) + " is negative (0 = forever)");
  }

  c.rejoin_after_leave = merged.rejoin_after_leave;

  for (const auto& t : merged.tags) {
    auto kv = parse_tag(t);
    if (!kv.ok()) return flag_error(src("--tag", in(flags.tags, t)), kv.status().message());
    c.tags[kv->first] = kv->second;
  }

  if (merged.data_dir) {
    if (merged.data_dir->empty()) return flag_error(src("--data-dir", flags.data_dir.has_value()), "must not be empty");
    c.data_dir = *merged.data_dir;
  } else if (env.root) {
    c.data_dir = std::filesystem::path("/var/lib/shoal") / c.node_name;
  } else if (env.home) {
    c.data_dir = std::filesystem::path(*env.home) / ".shoal" / c.node_name;
  } else {
    c.data_dir = std::filesystem::path("data") / c.node_name;
  }

  c.profile = merged.profile.value_or("lan");
  if (auto p = gossip::Config::by_name(c.profile); !p.ok()) {
    return flag_error(src("--profile", flags.profile.has_value()), p.status().message());
  }

  auto http = parse_listen_address(src("--http", flags.http.has_value()), merged.http.value_or("127.0.0.1"),
                                   kDefaultHttpPort);
  if (!http.ok()) return http.status();
  c.http = *http;
  if (c.http.port == c.bind.port && (c.http.ip_bytes().size() == c.bind.ip_bytes().size())) {
    // Different protocols on one port only clash on the TCP side, which both use.
    if (c.http == c.bind || is_unspecified(c.http) || is_unspecified(c.bind)) {
      return flag_error("--http", c.http.to_string() + " is the gossip port (--bind)");
    }
  }

  if (merged.rpc) {
    auto rpc = parse_listen_address(src("--rpc", flags.rpc.has_value()), *merged.rpc,
                                    c.bind.port == 65535 ? 0 : c.bind.port + 1);
    if (!rpc.ok()) return rpc.status();
    c.rpc = *rpc;
  } else {
    if (c.bind.port == 65535) {
      return flag_error("--rpc", "required when the gossip port is 65535 (no port + 1)");
    }
    c.rpc = c.bind;
    c.rpc.port = static_cast<uint16_t>(c.bind.port + 1);
  }
  if (c.rpc == c.bind) {
    return flag_error(src("--rpc", flags.rpc.has_value()), c.rpc.to_string() + " is the gossip port (--bind)");
  }
  if (c.rpc == c.http) {
    return flag_error(src("--rpc", flags.rpc.has_value()), c.rpc.to_string() + " is the HTTP API address (--http)");
  }

  if (merged.rpc_serf) {
    const std::string name = src("--rpc-serf", flags.rpc_serf.has_value());
    auto addr = parse_listen_address(name, *merged.rpc_serf, kDefaultSerfRpcPort);
    if (!addr.ok()) return addr.status();
    for (const auto& [other, what] : {std::pair{c.http, "the HTTP API address (--http)"},
                                      std::pair{c.rpc, "the node-to-node address (--rpc)"},
                                      std::pair{c.bind, "the gossip port (--bind)"}}) {
      if (*addr == other) return flag_error(name, addr->to_string() + " is " + what);
    }
    c.rpc_serf = *addr;
  }
  // The router: `off`, or an address (default port 8000). Port 0 is allowed, unlike the
  // other listeners: the Router binds a free port and logs it (tests run many agents).
  const std::string router_name = src("--router", flags.router.has_value());
  const std::string router_text = merged.router.value_or("127.0.0.1");
  if (router_text != "off") {
    auto addr = gossip::Address::parse(router_text, kDefaultRouterPort);
    if (!addr.ok()) {
      return flag_error(router_name, "'" + router_text + "' is neither ADDR:PORT nor off: " +
                                         addr.status().message());
    }
    std::vector<std::pair<gossip::Address, const char*>> others = {
        {c.http, "the HTTP API address (--http)"},
        {c.rpc, "the node-to-node address (--rpc)"},
        {c.bind, "the gossip port (--bind)"}};
    if (c.rpc_serf) others.emplace_back(*c.rpc_serf, "the Serf RPC address (--rpc-serf)");
    for (const auto& [other, what] : others) {
      if (listeners_clash(*addr, other)) {
        return flag_error(router_name, addr->to_string() + " takes the port of " + what);
      }
    }
    c.router = *addr;
  }
  if (merged.router_tls && *merged.router_tls != "off") {
    const std::string name = src("--router-tls", flags.router_tls.has_value());
    if (!c.router) return flag_error(name, "needs the router, and --router is off");
    auto addr = gossip::Address::parse(*merged.router_tls, kDefaultRouterTlsPort);
    if (!addr.ok()) {
      return flag_error(name, "'" + *merged.router_tls + "' is neither ADDR[:PORT] nor off: " +
                                  addr.status().message());
    }
    std::vector<std::pair<gossip::Address, const char*>> others = {
        {c.http, "the HTTP API address (--http)"},
        {c.rpc, "the node-to-node address (--rpc)"},
        {c.bind, "the gossip port (--bind)"},
        {*c.router, "the router (--router)"}};
    if (c.rpc_serf) others.emplace_back(*c.rpc_serf, "the Serf RPC address (--rpc-serf)");
    for (const auto& [other, what] : others) {
      if (listeners_clash(*addr, other)) {
        return flag_error(name, addr->to_string() + " takes the port of " + what);
      }
    }
    c.router_tls = *addr;
  }
  const std::string access_text =
      merged.router_access_log.value_or((c.data_dir / "router-access.log").string());
  if (merged.router_access_log && merged.router_access_log->empty()) {
    return flag_error(src("--router-access-log", flags.router_access_log.has_value()),
                      "must not be empty (a file, or off)");
  }
  if (c.router && access_text != "off") c.router_access_log = access_text;
  if (merged.domain) {
    auto domain = apps::normalize_domain(*merged.domain);
    if (!domain.ok()) {
      return flag_error(src("--domain", flags.domain.has_value()), domain.status().message());
    }
    c.domain = *domain;
  }

  if (merged.open_endpoints) {
    const std::string name = src("--open-endpoints", flags.open_endpoints.has_value());
    c.open_health = c.open_metrics = false;
    if (*merged.open_endpoints != "none") {
      std::string_view rest = *merged.open_endpoints;
      while (true) {
        const auto comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        if (item == "health") {
          c.open_health = true;
        } else if (item == "metrics") {
          c.open_metrics = true;
        } else {
          return flag_error(name, "'" + std::string(item) +
                                      "' is not health or metrics (or use none alone)");
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
  }
  if (merged.bootstrap_token_file) {
    const std::string name = src("--bootstrap-token-file", flags.bootstrap_token_file.has_value());
    if (merged.bootstrap_token_file->empty()) return flag_error(name, "must not be empty");
    c.bootstrap_token_file = *merged.bootstrap_token_file;
  }
  if (merged.local_token_file) {
    const std::string name = src("--local-token-file", flags.local_token_file.has_value());
    if (merged.local_token_file->empty()) return flag_error(name, "must not be empty");
    c.local_token_file = *merged.local_token_file;
  }
  if (merged.cluster_secret_file) {
    const std::string name = src("--cluster-secret-file", flags.cluster_secret_file.has_value());
    if (merged.cluster_secret_file->empty()) return flag_error(name, "must not be empty");
    c.cluster_secret_file = *merged.cluster_secret_file;
  }
  if (merged.insecure_rpc) {
    const std::string name = src("--insecure-rpc", flags.insecure_rpc);
    if (!is_loopback(c.rpc)) {
      return flag_error(name, "needs a loopback --rpc (it is " + c.rpc.to_string() +
                                  "): plaintext node-to-node traffic must not leave the machine");
    }
    if (c.cluster_secret_file) return flag_error(name, "and --cluster-secret-file exclude each other");
    c.insecure_rpc = true;
  }
  if (merged.http_tls_cert.has_value() != merged.http_tls_key.has_value()) {
    const bool cert = merged.http_tls_cert.has_value();
    const std::string name = cert ? src("--http-tls-cert", flags.http_tls_cert.has_value())
                                  : src("--http-tls-key", flags.http_tls_key.has_value());
    return flag_error(name, cert ? "needs --http-tls-key (the certificate's private key)"
                                 : "needs --http-tls-cert (the certificate it belongs to)");
  }
  if (merged.http_tls_cert) {
    if (merged.http_tls_cert->empty() || merged.http_tls_key->empty()) {
      return flag_error(src("--http-tls-cert", flags.http_tls_cert.has_value()),
                        "and --http-tls-key must not be empty");
    }
    c.http_tls_cert = *merged.http_tls_cert;
    c.http_tls_key = *merged.http_tls_key;
  }
  // Off loopback, tokens would cross the network in the clear: the API always speaks TLS.
  c.http_tls = merged.http_tls || c.http_tls_cert.has_value() || !is_loopback(c.http);

  if (merged.rpc_serf_auth) {
    const std::string name = src("--rpc-serf-auth", flags.rpc_serf_auth.has_value());
    if (merged.rpc_serf_auth->empty()) return flag_error(name, "must not be empty");
    if (!c.rpc_serf) return flag_error(name, "needs --rpc-serf (the Serf RPC is off)");
    c.rpc_serf_auth = *merged.rpc_serf_auth;
  }

  if (merged.raft_snapshot_entries) {
    if (*merged.raft_snapshot_entries < 1) {
      return flag_error(src("--raft-snapshot-entries", flags.raft_snapshot_entries.has_value()),
                        std::to_string(*merged.raft_snapshot_entries) + " is not a positive count");
    }
    c.raft_snapshot_entries = static_cast<uint64_t>(*merged.raft_snapshot_entries);
  }

  auto level = parse_log_level(merged.log_level.value_or("info"));
  if (!level.ok()) return flag_error(src("--log-level", flags.log_level.has_value()), level.status().message());
  c.log_level = *level;

  if (merged.encrypt) {
    auto key = gossip::key_from_base64(*merged.encrypt);
    if (!key.ok()) return flag_error(src("--encrypt", flags.encrypt.has_value()), key.status().message());
    c.encrypt_key = std::move(*key);
  }

  for (const auto& text : merged.event_handlers) {
    auto spec = parse_event_handler(text);
    if (!spec.ok()) {
      const bool from_flag = in(flags.event_handlers, text) || !flags.config_file;
      return flag_error(from_flag ? std::string("--event-handler")
                                  : *flags.config_file + ": key 'event_handlers'",
                        spec.status().message());
    }
    c.event_handlers.push_back(std::move(*spec));
  }
  if (merged.event_handler_timeout) {
    const std::string name =
        src("--event-handler-timeout", flags.event_handler_timeout.has_value());
    auto d = parse_duration(*merged.event_handler_timeout);
    if (!d.ok()) return flag_error(name, d.status().message());
    if (*d <= Duration::zero()) return flag_error(name, "must be longer than 0");
    c.event_handler_timeout = *d;
  }
  if (merged.usage_interval) {
    const std::string name = src("--usage-interval", flags.usage_interval.has_value());
    if (*merged.usage_interval == "off") {
      c.usage_interval = Duration::zero();
    } else {
      auto d = parse_duration(*merged.usage_interval);
      if (!d.ok()) return flag_error(name, d.status().message());
      if (*d < std::chrono::milliseconds(100) || *d > std::chrono::minutes(1)) {
        return flag_error(name, "must be from 100ms to 1m, or off");
      }
      c.usage_interval = *d;
    }
  }
  return c;
}

}  // namespace shoal::node
