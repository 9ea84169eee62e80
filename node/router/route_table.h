// node/router/route_table.h
//
// RouteTable: an immutable snapshot of where each app's HTTP traffic goes — which Host
// names belong to which app, and the app's healthy `web` instances on every node. The
// control plane (node/router/route_store.h) builds a new table on every change and hands
// it to the proxy (node/router/router.h), whose IO threads each hold a shared_ptr to the
// current one, so a request looks its route up without a lock.
//
// Contract:
//  - A Host header matches, case-insensitively and without its ":port": "APP.DOMAIN" for
//    the cluster's domain (default "localhost"), or a custom domain attached to the app
//    (`shoal domains add APP HOST`). A custom domain wins over the APP.DOMAIN rule.
//  - An app present with no backend is known but has no healthy instance (503, not 404).
//  - Backends are listed in a stable order (node, then instance id).
//  - tls() holds the certificate and key of every custom domain that has one, for the
//    router's TLS listener; it is shared between tables until the certificates change.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "node/router/tls_pem.h"

namespace shoal::node::router {

// One healthy instance of an app's web process.
struct Backend {
  std::string instance;  // "web.3f9a1c"
  std::string node;      // the node that runs it
  std::string host;      // IP to connect to: the node's gossip IP
  uint16_t port = 0;     // the instance's $PORT
  uint64_t release = 0;

  bool operator==(const Backend&) const = default;
};

struct AppRoutes {
  std::string app;
  std::vector<std::string> domains;  // custom domains, lower case
  std::vector<Backend> backends;     // healthy and not draining
};

class RouteTable {
 public:
  using TlsMap = std::map<std::string, TlsPem>;  // custom domain -> its certificate

  RouteTable() : RouteTable("localhost", {}) {}
  RouteTable(std::string domain, std::vector<AppRoutes> apps,
             std::shared_ptr<const TlsMap> tls = nullptr);

  // The app a Host header names, or nullptr: unknown host.
  const AppRoutes* lookup(std::string_view host_header) const;
  // The app by name, or nullptr.
  const AppRoutes* app(std::string_view name) const;

  const std::string& domain() const { return domain_; }
  const std::vector<AppRoutes>& apps() const { return apps_; }
  // Never null.
  const std::shared_ptr<const TlsMap>& tls() const { return tls_; }

 private:
  std::string domain_;
  std::shared_ptr<const TlsMap> tls_;
  std::vector<AppRoutes> apps_;
  std::unordered_map<std::string, size_t> by_name_;    // app name -> index
  std::unordered_map<std::string, size_t> by_domain_;  // custom domain -> index
};

// Lower-cases a Host header and strips its port ("Web.Example.COM:8080" -> "web.example.com",
// "[::1]:80" -> "[::1]").
std::string normalize_host(std::string_view host_header);

}  // namespace shoal::node::router
