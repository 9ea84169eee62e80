// node/router/route_table.cc
#include "node/router/route_table.h"

#include <algorithm>
#include <cctype>
#include <tuple>

namespace shoal::node::router {

std::string normalize_host(std::string_view h) {
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.remove_prefix(1);
  if (!h.empty() && h.front() == '[') {
    auto close = h.find(']');
    if (close != std::string_view::npos) h = h.substr(0, close + 1);
  } else if (auto colon = h.rfind(':'); colon != std::string_view::npos) {
    h = h.substr(0, colon);
  }
  if (!h.empty() && h.back() == '.') h.remove_suffix(1);  // "app.localhost." is absolute
  std::string out(h);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

RouteTable::RouteTable(std::string domain, std::vector<AppRoutes> apps,
                       std::shared_ptr<const TlsMap> tls)
    : domain_(normalize_host(domain)),
      tls_(tls ? std::move(tls) : std::make_shared<const TlsMap>()),
      apps_(std::move(apps)) {
  for (size_t i = 0; i < apps_.size(); ++i) {
    auto& a = apps_[i];
    std::sort(a.backends.begin(), a.backends.end(), [](const Backend& x, const Backend& y) {
      return std::tie(x.node, x.instance) < std::tie(y.node, y.instance);
    });
    by_name_.emplace(a.app, i);
    for (auto& d : a.domains) {
      d = normalize_host(d);
      by_domain_.emplace(d, i);
    }
  }
}

const AppRoutes* RouteTable::app(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &apps_[it->second];
}

const AppRoutes* RouteTable::lookup(std::string_view host_header) const {
  const std::string host = normalize_host(host_header);
  if (auto it = by_domain_.find(host); it != by_domain_.end()) return &apps_[it->second];
  // "APP.DOMAIN": exactly one label before the domain.
  if (host.size() > domain_.size() + 1 && host.ends_with(domain_) &&
      host[host.size() - domain_.size() - 1] == '.') {
    std::string_view label(host.data(), host.size() - domain_.size() - 1);
    if (label.find('.') == std::string_view::npos) return app(label);
  }
  return nullptr;
}

}  // namespace shoal::node::router
