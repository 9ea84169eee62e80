// node/apps/catalog_state.h
//
// CatalogState: the state machine of the catalog Raft group (kCatalogGroup). It holds the
// apps and where each app's group lives (group id, replica nodes), the next app seq (starts
// at 1, never reused, so a destroyed app's group id never comes back), node marks (draining),
// services (a generic record issue 10 fills) and cluster settings.
//
// Contract:
//  - Commands are built by the static builders below and proposed through Raft; apply()
//    returns a result (command_result.h): {"ok": true, ...} or an error with code
//    exists | not_found | invalid | conflict. A command that does not decode or fails
//    validation changes nothing. apply() is deterministic, reads no clock (commands carry
//    now_ms) and never throws.
//  - snapshot() is msgpack of the whole state; restore() rejects bytes it cannot decode with
//    corruption naming the problem and then changes nothing. Empty bytes restore an empty
//    catalog (a new group's first snapshot).
//  - Not thread-safe: the Raft host's thread applies, and whoever reads the state does so
//    on that thread (or from a copy made there).
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "node/apps/catalog_events.h"
#include "node/apps/catalog_tokens.h"
#include "node/apps/command_result.h"
#include "raft/state_machine.h"

namespace shoal::node::apps {

// A custom domain's certificate chain and private key, PEM (`shoal domains add --cert
// --key`); the router terminates TLS for the domain with it.
struct DomainTls {
  std::string cert;
  std::string key;
  bool operator==(const DomainTls&) const = default;
};

struct AppRecord {
  raft::GroupId group = 0;
  std::vector<std::string> replicas;  // node names, in the order given
  int64_t created_ms = 0;
  // Custom domains routed to the app (`shoal domains add`), lower case, sorted; a host
  // belongs to at most one app.
  std::vector<std::string> domains;
  std::map<std::string, DomainTls> tls;  // domain (one of `domains`) -> its certificate
  bool operator==(const AppRecord&) const = default;
};

struct NodeMark {
  bool draining = false;
  bool operator==(const NodeMark&) const = default;
};

struct ServiceRecord {
  std::string kind;      // "postgres", "redis", ...
  std::string node;      // the node that hosts it
  std::string endpoint;  // "host:port", "" until it runs
  nlohmann::json spec;   // kind-specific settings (an object)
  bool operator==(const ServiceRecord&) const = default;
};

class CatalogState final : public raft::StateMachine {
 public:
  // Called (on the applying thread) with the token table whenever it changes, and after a
  // restore: how a catalog replica keeps its node's TokenStore current.
  using TokensChanged = std::function<void(uint64_t version, auth::TokenTable table)>;
  explicit CatalogState(TokensChanged on_tokens = nullptr) : on_tokens_(std::move(on_tokens)) {}

  // Result: {"ok", "name", "group"}. exists if the name is taken; invalid for a bad name or
  // replica list (1 to 7 distinct valid node names).
  static Bytes create_app(std::string_view name, const std::vector<std::string>& replicas,
                          int64_t now_ms);
  // Result: {"ok", "name", "group"} (the group to delete). not_found.
  static Bytes destroy_app(std::string_view name);
  // Result: {"ok", "name", "group", "replicas"}. not_found, invalid.
  static Bytes set_replicas(std::string_view name, const std::vector<std::string>& replicas);
  // Attaches a custom domain to an app. `host` is checked and lower-cased (names.h).
  // Result: {"ok", "name", "host", "domains"}. not_found (no app), invalid (bad host),
  // conflict when another app has the host (the message names it). Adding a host the app
  // already has is ok. With `tls`, the domain's certificate is set (or replaced); without,
  // a certificate it has stays. The caller checks the pair (node/router/tls.h).
  static Bytes add_domain(std::string_view name, std::string_view host,
                          const DomainTls* tls = nullptr);
  // Result: {"ok", "name", "host", "domains"}. not_found: no app, or the app has no such host.
  // The domain's certificate goes with it.
  static Bytes remove_domain(std::string_view name, std::string_view host);
  // Result: {"ok", "node", "draining"}. invalid for a bad node name.
  static Bytes set_drain(std::string_view node, bool draining);
  // Result: {"ok", "key"}. Keys 1-256 bytes, values up to 64 KiB.
  static Bytes set_setting(std::string_view key, std::string_view value);
  // Result: {"ok", "key"}. not_found.
  static Bytes remove_setting(std::string_view key);
  // Creates or replaces a service. Result: {"ok", "name"}. invalid (bad name, empty kind,
  // bad node, spec not an object).
  static Bytes put_service(std::string_view name, const ServiceRecord& service);
  // Result: {"ok", "name"}. not_found.
  static Bytes remove_service(std::string_view name);

  Bytes apply(const raft::Entry& entry) override;
  Bytes snapshot() const override;
  Status restore(ByteView data) override;

  const std::map<std::string, AppRecord>& apps() const { return apps_; }
  const AppRecord* app(const std::string& name) const;
  // The app whose group is `group`, if any.
  std::optional<std::string> app_of_group(raft::GroupId group) const;
  uint64_t next_app_seq() const { return next_app_seq_; }
  // Only nodes with a mark set are present.
  const std::map<std::string, NodeMark>& node_marks() const { return node_marks_; }
  bool draining(const std::string& node) const;
  // The app a custom domain belongs to (`host` lower case), if any.
  std::optional<std::string> domain_owner(const std::string& host) const;
  const std::map<std::string, ServiceRecord>& services() const { return services_; }
  const std::map<std::string, std::string>& settings() const { return settings_; }
  std::optional<std::string> setting(const std::string& key) const;
  // Node, app and leader events (catalog_events.h; its ops are built there).
  const CatalogEvents& catalog_events() const { return events_; }
  const EventLog& events() const { return events_.log(); }
  // API tokens (hashed), their version and the bootstrap token's id.
  const CatalogTokens& tokens() const { return tokens_; }

 private:
  Bytes apply_command(const nlohmann::json& command);
  nlohmann::json to_json() const;

  std::map<std::string, AppRecord> apps_;
  uint64_t next_app_seq_ = 1;
  std::map<std::string, NodeMark> node_marks_;
  std::map<std::string, ServiceRecord> services_;
  std::map<std::string, std::string> settings_;
  CatalogEvents events_;
  CatalogTokens tokens_;
  TokensChanged on_tokens_;  // not state: survives restore()
};

}  // namespace shoal::node::apps
