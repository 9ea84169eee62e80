// node/router/route_store.cc
#include "node/router/route_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <tuple>

namespace shoal::node::router {

using nlohmann::json;

namespace {

constexpr size_t kMaxBackends = 10'000;
constexpr size_t kMaxDomains = 1'000;

json backend_json(const Backend& b) {
  return {{"instance", b.instance}, {"node", b.node}, {"host", b.host},
          {"port", b.port},         {"release", b.release}};
}

// Reads a string member; false (and `error` set) when absent or not a string.
bool read_string(const json& j, const char* key, std::string* out, std::string* error) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    *error = std::string("'") + key + "' must be a string";
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool read_uint(const json& j, const char* key, uint64_t max, uint64_t* out, std::string* error) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer() ||
      (it->is_number_integer() && !it->is_number_unsigned() && it->get<int64_t>() < 0) ||
      it->get<uint64_t>() > max) {
    *error = std::string("'") + key + "' must be an integer from 0 to " + std::to_string(max);
    return false;
  }
  *out = it->get<uint64_t>();
  return true;
}

}  // namespace

json to_json(const RoutePush& p) {
  json backends = json::array();
  for (const auto& b : p.backends) backends.push_back(backend_json(b));
  return {{"app", p.app},         {"group", p.group},     {"term", p.term},
          {"version", p.version}, {"domains", p.domains}, {"backends", std::move(backends)}};
}

Result<RoutePush> parse_route_push(const json& body) {
  std::string error;
  auto fail = [&](const std::string& where) {
    return Status::invalid_argument("route push: " + where + error);
  };
  if (!body.is_object()) return Status::invalid_argument("route push: not a JSON object");
  RoutePush p;
  if (!read_string(body, "app", &p.app, &error) || p.app.empty()) {
    if (error.empty()) error = "'app' is empty";
    return fail("");
  }
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (!read_uint(body, "group", kMax, &p.group, &error) ||
      !read_uint(body, "term", kMax, &p.term, &error) ||
      !read_uint(body, "version", kMax, &p.version, &error)) {
    return fail("");
  }
  const json domains = body.value("domains", json::array());
  if (!domains.is_array() || domains.size() > kMaxDomains) {
    return Status::invalid_argument("route push: 'domains' must be an array of host names");
  }
  for (const auto& d : domains) {
    if (!d.is_string()) return Status::invalid_argument("route push: 'domains' must hold strings");
    p.domains.push_back(normalize_host(d.get<std::string>()));
  }
  const json backends = body.value("backends", json::array());
  if (!backends.is_array() || backends.size() > kMaxBackends) {
    return Status::invalid_argument("route push: 'backends' must be an array");
  }
  for (size_t i = 0; i < backends.size(); ++i) {
    const json& j = backends[i];
    const std::string where = "backends[" + std::to_string(i) + "]: ";
    if (!j.is_object()) return Status::invalid_argument("route push: " + where + "not an object");
    Backend b;
    uint64_t port = 0;
    if (!read_string(j, "instance", &b.instance, &error) ||
        !read_string(j, "node", &b.node, &error) || !read_string(j, "host", &b.host, &error) ||
        !read_uint(j, "port", 65535, &port, &error) ||
        !read_uint(j, "release", kMax, &b.release, &error)) {
      return fail(where);
    }
    if (port == 0 || b.host.empty()) {
      return Status::invalid_argument("route push: " + where + "needs a host and a port");
    }
    b.port = static_cast<uint16_t>(port);
    p.backends.push_back(std::move(b));
  }
  return p;
}

std::string_view to_string(RouteStore::Outcome outcome) {
  switch (outcome) {
    case RouteStore::Outcome::applied: return "applied";
    case RouteStore::Outcome::unchanged: return "unchanged";
    case RouteStore::Outcome::stale: return "stale";
    case RouteStore::Outcome::fenced: return "fenced";
  }
  return "?";
}

RouteStore::RouteStore(std::string domain)
    : domain_(normalize_host(domain)),
      table_(std::make_shared<const RouteTable>(domain_, std::vector<AppRoutes>{})) {}

void RouteStore::set_listener(Listener listener) {
  std::shared_ptr<const RouteTable> current;
  {
    std::lock_guard lock(mu_);
    current = table_;
  }
  std::lock_guard lock(listener_mu_);
  listener_ = std::move(listener);
  if (listener_) listener_(current);
}

std::shared_ptr<const RouteTable> RouteStore::table() const {
  std::lock_guard lock(mu_);
  return table_;
}

std::shared_ptr<const RouteTable> RouteStore::build_locked() const {
  std::vector<AppRoutes> apps;
  apps.reserve(entries_.size());
  for (const auto& [name, e] : entries_) {
    AppRoutes a;
    a.app = name;
    a.domains = e.push.domains;
    for (const auto& b : e.push.backends) {
      if (!down_.contains(b.node)) a.backends.push_back(b);
    }
    apps.push_back(std::move(a));
  }
  return std::make_shared<const RouteTable>(domain_, std::move(apps), tls_);
}

void RouteStore::publish(std::shared_ptr<const RouteTable> table, uint64_t seq) {
  std::lock_guard lock(listener_mu_);
  // Two changes racing: the one built last wins, an older one arriving late is dropped.
  if (seq <= published_seq_) return;
  published_seq_ = seq;
  if (listener_) listener_(std::move(table));
}

RouteStore::Outcome RouteStore::apply(const RoutePush& push, Clock::time_point now) {
  std::shared_ptr<const RouteTable> table;
  uint64_t seq = 0;
  Outcome outcome = Outcome::applied;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(push.app);
    if (it != entries_.end()) {
      const RoutePush& held = it->second.push;
      const auto mine = std::tie(held.group, held.term, held.version);
      const auto theirs = std::tie(push.group, push.term, push.version);
      if (push.group < held.group || (push.group == held.group && push.term < held.term)) {
        return Outcome::fenced;
      }
      if (theirs == mine) {
        it->second.received = now;  // the leader still stands behind these routes
        return Outcome::unchanged;
      }
      if (theirs < mine) return Outcome::stale;
      const bool same = held.domains == push.domains && held.backends == push.backends;
      it->second = Entry{push, now};
      if (same) return outcome;
    } else {
      entries_.emplace(push.app, Entry{push, now});
    }
    table_ = build_locked();
    table = table_;
    seq = ++build_seq_;
  }
  publish(std::move(table), seq);
  return outcome;
}

void RouteStore::set_down_nodes(std::set<std::string> nodes) {
  std::shared_ptr<const RouteTable> table;
  uint64_t seq = 0;
  {
    std::lock_guard lock(mu_);
    if (nodes == down_) return;
    down_ = std::move(nodes);
    table_ = build_locked();
    table = table_;
    seq = ++build_seq_;
  }
  publish(std::move(table), seq);
}

void RouteStore::set_request_counter(RequestCounter counter) {
  std::lock_guard lock(counter_mu_);
  counter_ = std::move(counter);
}

std::optional<uint64_t> RouteStore::requests(std::string_view app) const {
  std::lock_guard lock(counter_mu_);
  if (!counter_) return std::nullopt;
  return counter_(app);
}

void RouteStore::set_tls(RouteTable::TlsMap certificates) {
  std::shared_ptr<const RouteTable> table;
  uint64_t seq = 0;
  {
    std::lock_guard lock(mu_);
    if (certificates == *tls_) return;
    tls_ = std::make_shared<const RouteTable::TlsMap>(std::move(certificates));
    table_ = build_locked();
    table = table_;
    seq = ++build_seq_;
  }
  publish(std::move(table), seq);
}

void RouteStore::retain_apps(const std::map<std::string, uint64_t>& catalog_apps,
                             uint64_t next_group) {
  std::shared_ptr<const RouteTable> table;
  uint64_t seq = 0;
  {
    std::lock_guard lock(mu_);
    bool dropped = false;
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto c = catalog_apps.find(it->first);
      const uint64_t group = it->second.push.group;
      const bool known = c != catalog_apps.end() && c->second == group;
      const bool newer = group >= next_group;
      if (known || newer) {
        ++it;
        continue;
      }
      spdlog::info("routes-dropped app={} group={} reason=\"the catalog no longer has it\"",
                   it->first, group);
      it = entries_.erase(it);
      dropped = true;
    }
    if (!dropped) return;
    table_ = build_locked();
    table = table_;
    seq = ++build_seq_;
  }
  publish(std::move(table), seq);
}

json RouteStore::to_json(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  json apps = json::array();
  for (const auto& [name, e] : entries_) {
    json backends = json::array();
    json down = json::array();
    for (const auto& b : e.push.backends) {
      if (down_.contains(b.node)) {
        down.push_back(b.instance);
      } else {
        backends.push_back(backend_json(b));
      }
    }
    const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - e.received);
    apps.push_back({{"app", name},
                    {"group", e.push.group},
                    {"term", e.push.term},
                    {"version", e.push.version},
                    {"age_ms", std::max<int64_t>(0, age.count())},
                    {"domains", e.push.domains},
                    {"backends", std::move(backends)},
                    {"down", std::move(down)}});
  }
  json tls = json::array();
  for (const auto& [host, pem] : *tls_) tls.push_back(host);  // never the keys
  return {{"domain", domain_}, {"apps", std::move(apps)}, {"tls_domains", std::move(tls)}};
}

}  // namespace shoal::node::router
