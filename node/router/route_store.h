// node/router/route_store.h
//
// The receiving end of the route channel (docs/router.md): every node keeps, per app, the
// newest routes its app leader pushed (POST /v1/internal/routes) and builds from them the
// RouteTable its Router serves.
//
// Contract:
//  - A push is ordered by (group, term, version). Within one group, a lower term than the
//    one held is refused (`fenced`: answered 409, like an assignment from a deposed
//    leader); the same term with a version not above the one held is `stale` and changes
//    nothing. A higher group (the app was destroyed and created again) replaces a lower one;
//    a lower group is fenced.
//  - Routes are never expired by silence: a node keeps serving its last known routes while an
//    app's group elects or is unreachable. An app leaves the table only when the catalog no
//    longer has it (retain_apps).
//  - Backends on nodes that this node's gossip view holds failed or left (set_down_nodes)
//    are left out of the table until the node is back, so a dead node's instances drop from
//    the routes within the gossip detection time, before its app leader speaks.
//  - Every change that alters the table builds a new one and hands it to the listener, on
//    the calling thread, outside the store's lock. All methods are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "node/router/route_table.h"

namespace shoal::node::router {

// One POST /v1/internal/routes body: an app's whole routes as its leader sees them.
struct RoutePush {
  std::string app;
  uint64_t group = 0;
  uint64_t term = 0;
  uint64_t version = 0;              // grows within a term
  std::vector<std::string> domains;  // custom domains, lower case
  std::vector<Backend> backends;
  bool operator==(const RoutePush&) const = default;
};

nlohmann::json to_json(const RoutePush& push);
// invalid_argument naming the field on a malformed body.
Result<RoutePush> parse_route_push(const nlohmann::json& body);

class RouteStore {
 public:
  using Clock = std::chrono::steady_clock;
  using Listener = std::function<void(std::shared_ptr<const RouteTable>)>;

  enum class Outcome { applied, unchanged, stale, fenced };

  explicit RouteStore(std::string domain);
  RouteStore(const RouteStore&) = delete;
  RouteStore& operator=(const RouteStore&) = delete;

  // Called with every new table (and once, at once, with the current one).
  void set_listener(Listener listener);

  // `applied`: newer routes, taken (the table may or may not have changed);
  // `unchanged`: same (group, term, version) as held; `stale`: older version, same term;
  // `fenced`: a lower term or group than held (the sender is a deposed leader).
  Outcome apply(const RoutePush& push, Clock::time_point now = Clock::now());

  // The nodes gossip holds failed or left; their backends are left out of the table.
  void set_down_nodes(std::set<std::string> nodes);

  // Where a push's answer finds this node's request count for the app (the router's,
  // Router::requests()): set while a router runs, null otherwise (then answers carry none).
  using RequestCounter = std::function<uint64_t(std::string_view app)>;
  void set_request_counter(RequestCounter counter);
  std::optional<uint64_t> requests(std::string_view app) const;

  // The certificates of custom domains (from the catalog), for the router's TLS listener.
  void set_tls(RouteTable::TlsMap certificates);

  // Drops every app the catalog no longer has: an app is kept when the catalog names it
  // with the group held, or when its group is not below `next_group` (created after that
  // catalog was read, so the catalog could not know it yet).
  void retain_apps(const std::map<std::string, uint64_t>& catalog_apps, uint64_t next_group);

  const std::string& domain() const { return domain_; }
  std::shared_ptr<const RouteTable> table() const;

  // GET /v1/routes: {"domain", "apps": [{"app", "group", "term", "version", "age_ms",
  // "domains", "backends": [...], "down": [instances left out: their node is down]}],
  // "tls_domains": [domains with a certificate]}.
  nlohmann::json to_json(Clock::time_point now = Clock::now()) const;

 private:
  struct Entry {
    RoutePush push;
    Clock::time_point received{};
  };
  // Builds the table from entries_ and down_; mu_ held.
  std::shared_ptr<const RouteTable> build_locked() const;
  // Publishes `table` to the listener (outside mu_, in order of builds).
  void publish(std::shared_ptr<const RouteTable> table, uint64_t seq);

  const std::string domain_;
  mutable std::mutex mu_;  // guards the fields below
  std::map<std::string, Entry> entries_;
  std::set<std::string> down_;
  std::shared_ptr<const RouteTable::TlsMap> tls_ = std::make_shared<const RouteTable::TlsMap>();
  std::shared_ptr<const RouteTable> table_;
  uint64_t build_seq_ = 0;

  mutable std::mutex counter_mu_;  // guards counter_
  RequestCounter counter_;

  std::mutex listener_mu_;  // serialises calls to the listener, newest last
  Listener listener_;
  uint64_t published_seq_ = 0;
};

std::string_view to_string(RouteStore::Outcome outcome);

}  // namespace shoal::node::router
