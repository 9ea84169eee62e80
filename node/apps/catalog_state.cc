#include "node/apps/catalog_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "node/apps/group_ids.h"
#include "node/apps/json_fields.h"
#include "node/apps/names.h"

namespace shoal::node::apps {
namespace {

using json = nlohmann::json;

constexpr int kSnapshotVersion = 1;
constexpr size_t kMaxReplicas = 7;
constexpr size_t kMaxDomainsPerApp = 100;
constexpr size_t kMaxTlsPemBytes = 64 << 10;  // a certificate chain, or a key
constexpr size_t kMaxSettingKeyBytes = 256;
constexpr size_t kMaxSettingValueBytes = 1 << 16;

Status check_replicas(const std::vector<std::string>& replicas) {
  if (replicas.empty() || replicas.size() > kMaxReplicas) {
    return Status::invalid_argument(
        fmt::format("an app needs 1 to {} replicas, not {}", kMaxReplicas, replicas.size()));
  }
  std::set<std::string_view> seen;
  for (const auto& r : replicas) {
    SHOAL_RETURN_IF_ERROR(validate_node_name(r));
    if (!seen.insert(r).second) {
      return Status::invalid_argument("replica '" + r + "' is listed twice");
    }
  }
  return Status();
}

Status check_service(const ServiceRecord& s) {
  if (s.kind.empty() || s.kind.size() > 64) {
    return Status::invalid_argument("a service needs a kind of 1 to 64 bytes");
  }
  SHOAL_RETURN_IF_ERROR(validate_node_name(s.node));
  if (!s.spec.is_object()) return Status::invalid_argument("a service's spec must be an object");
  return Status();
}

Bytes invalid(std::string_view msg) { return error_result(ErrorCode::invalid, msg); }

// The snapshot's form of an app: it holds the domains' private keys, so it is never an
// API answer.
json app_json(const AppRecord& a) {
  json tls = json::object();
  for (const auto& [host, t] : a.tls) tls[host] = {{"cert", t.cert}, {"key", t.key}};
  return {{"group", a.group},
          {"replicas", a.replicas},
          {"created_ms", a.created_ms},
          {"domains", a.domains},
          {"tls", std::move(tls)}};
}

json service_json(const ServiceRecord& s) {
  return {{"kind", s.kind}, {"node", s.node}, {"endpoint", s.endpoint}, {"spec", s.spec}};
}

ServiceRecord service_from(JsonFields& f) {
  ServiceRecord s;
  s.kind = f.str("kind");
  s.node = f.str("node");
  s.endpoint = f.str("endpoint");
  s.spec = f.object("spec");
  return s;
}

}  // namespace

// ---- builders ----

Bytes CatalogState::create_app(std::string_view name, const std::vector<std::string>& replicas,
                               int64_t now_ms) {
  return encode_command(
      {{"op", "create_app"}, {"name", name}, {"replicas", replicas}, {"now_ms", now_ms}});
}

Bytes CatalogState::destroy_app(std::string_view name) {
  return encode_command({{"op", "destroy_app"}, {"name", name}});
}

Bytes CatalogState::set_replicas(std::string_view name, const std::vector<std::string>& replicas) {
  return encode_command({{"op", "set_replicas"}, {"name", name}, {"replicas", replicas}});
}

Bytes CatalogState::add_domain(std::string_view name, std::string_view host,
                               const DomainTls* tls) {
  json c = {{"op", "add_domain"}, {"name", name}, {"host", host}};
  if (tls) {
    c["cert"] = tls->cert;
    c["key"] = tls->key;
  }
  return encode_command(c);
}

Bytes CatalogState::remove_domain(std::string_view name, std::string_view host) {
  return encode_command({{"op", "remove_domain"}, {"name", name}, {"host", host}});
}

Bytes CatalogState::set_drain(std::string_view node, bool draining) {
  return encode_command({{"op", "set_drain"}, {"node", node}, {"draining", draining}});
}

Bytes CatalogState::set_setting(std::string_view key, std::string_view value) {
  return encode_command({{"op", "set_setting"}, {"key", key}, {"value", value}});
}

Bytes CatalogState::remove_setting(std::string_view key) {
  return encode_command({{"op", "remove_setting"}, {"key", key}});
}

Bytes CatalogState::put_service(std::string_view name, const ServiceRecord& service) {
  json cmd = service_json(service);
  cmd["op"] = "put_service";
  cmd["name"] = name;
  return encode_command(cmd);
}

Bytes CatalogState::remove_service(std::string_view name) {
  return encode_command({{"op", "remove_service"}, {"name", name}});
}

// ---- apply ----

Bytes CatalogState::apply(const raft::Entry& entry) {
  auto command = decode_command(entry.data);
  if (!command.ok()) return invalid("catalog: " + command.status().message());
  const uint64_t tokens_before = tokens_.version();
  Bytes result = apply_command(*command);
  events_.derive(*command, result);
  if (on_tokens_ && tokens_.version() != tokens_before) on_tokens_(tokens_.version(), tokens_.table());
  return result;
}

Bytes CatalogState::apply_command(const json& command) {
  JsonFields f(command, "catalog command");
  const std::string op = f.str("op", 64);
  if (!f.ok()) return invalid(f.error());
  JsonFields c(command, op);
  if (events_.is_event_op(op)) return events_.apply_op(command);
  if (tokens_.is_token_op(op)) return tokens_.apply_op(command);

  if (op == "create_app" || op == "set_replicas") {
    const std::string name = c.str("name", 256);
    const std::vector<std::string> replicas = c.strings("replicas", 64);
    const int64_t now_ms = op == "create_app" ? c.int64("now_ms", 0) : 0;
    if (!c.ok()) return invalid(c.error());
    if (Status s = validate_app_name(name); !s.ok()) return error_result(s);
    if (Status s = check_replicas(replicas); !s.ok()) return error_result(s);
    if (op == "create_app") {
      if (apps_.contains(name)) {
        return error_result(ErrorCode::exists, "app '" + name + "' already exists");
      }
      if (next_app_seq_ > kMaxAppSeq) return error_result(ErrorCode::conflict, "out of app ids");
      const raft::GroupId group = app_group(next_app_seq_++);
      apps_[name] = AppRecord{group, replicas, now_ms, {}, {}};
      return ok_result({{"name", name}, {"group", group}});
    }
    auto it = apps_.find(name);
    if (it == apps_.end()) return error_result(ErrorCode::not_found, "no app '" + name + "'");
    it->second.replicas = replicas;
    return ok_result({{"name", name}, {"group", it->second.group}, {"replicas", replicas}});
  }
  if (op == "destroy_app") {
    const std::string name = c.str("name", 256);
    if (!c.ok()) return invalid(c.error());
    auto it = apps_.find(name);
    if (it == apps_.end()) return error_result(ErrorCode::not_found, "no app '" + name + "'");
    const raft::GroupId group = it->second.group;
    apps_.erase(it);
    return ok_result({{"name", name}, {"group", group}});
  }
  if (op == "add_domain" || op == "remove_domain") {
    const std::string name = c.str("name", 256);
    const std::string given = c.str("host", 300);
    auto cert = c.opt_str("cert", kMaxTlsPemBytes);
    auto key = c.opt_str("key", kMaxTlsPemBytes);
    if (c.ok() && cert.has_value() != key.has_value()) {
      c.fail("a certificate needs its key, and a key its certificate");
    }
    if (!c.ok()) return invalid(c.error());
    auto it = apps_.find(name);
    if (it == apps_.end()) return error_result(ErrorCode::not_found, "no app '" + name + "'");
    auto host = normalize_domain(given);
    if (!host.ok()) return error_result(host.status());
    auto& domains = it->second.domains;
    auto at = std::lower_bound(domains.begin(), domains.end(), *host);
    const bool has = at != domains.end() && *at == *host;
    if (op == "add_domain") {
      if (auto owner = domain_owner(*host); owner && *owner != name) {
        return error_result(ErrorCode::conflict,
                            "domain '" + *host + "' already belongs to app '" + *owner + "'");
      }
      if (!has && domains.size() >= kMaxDomainsPerApp) {
        return error_result(ErrorCode::conflict, fmt::format("app '{}' already has {} domains",
                                                             name, kMaxDomainsPerApp));
      }
      if (!has) domains.insert(at, *host);
      if (cert) it->second.tls[*host] = DomainTls{*cert, *key};
    } else {
      if (!has) {
        return error_result(ErrorCode::not_found,
                            "app '" + name + "' has no domain '" + *host + "'");
      }
      domains.erase(at);
      it->second.tls.erase(*host);
    }
    return ok_result({{"name", name}, {"host", *host}, {"domains", domains}});
  }
  if (op == "set_drain") {
    const std::string node = c.str("node", 256);
    const bool draining = c.boolean("draining");
    if (!c.ok()) return invalid(c.error());
    if (Status s = validate_node_name(node); !s.ok()) return error_result(s);
    if (draining) {
      node_marks_[node].draining = true;
    } else {
      node_marks_.erase(node);  // no other mark yet: an unmarked node has no entry
    }
    return ok_result({{"node", node}, {"draining", draining}});
  }
  if (op == "set_setting") {
    const std::string key = c.str("key", kMaxSettingKeyBytes);
    const std::string value = c.str("value", kMaxSettingValueBytes);
    if (!c.ok()) return invalid(c.error());
    if (key.empty()) return invalid("set_setting: the key is empty");
    settings_[key] = value;
    return ok_result({{"key", key}});
  }
  if (op == "remove_setting") {
    const std::string key = c.str("key", kMaxSettingKeyBytes);
    if (!c.ok()) return invalid(c.error());
    if (settings_.erase(key) == 0) {
      return error_result(ErrorCode::not_found, "no setting '" + key + "'");
    }
    return ok_result({{"key", key}});
  }
  if (op == "put_service") {
    const std::string name = c.str("name", 256);
    ServiceRecord s = service_from(c);
    if (!c.ok()) return invalid(c.error());
    if (Status st = validate_service_name(name); !st.ok()) return error_result(st);
    if (Status st = check_service(s); !st.ok()) return error_result(st);
    services_[name] = std::move(s);
    return ok_result({{"name", name}});
  }
  if (op == "remove_service") {
    const std::string name = c.str("name", 256);
    if (!c.ok()) return invalid(c.error());
    if (services_.erase(name) == 0) {
      return error_result(ErrorCode::not_found, "no service '" + name + "'");
    }
    return ok_result({{"name", name}});
  }
  return invalid("unknown catalog command '" + op + "'");
}

// ---- snapshot ----

json CatalogState::to_json() const {
  json apps = json::object();
  for (const auto& [name, a] : apps_) apps[name] = app_json(a);
  json nodes = json::object();
  for (const auto& [name, m] : node_marks_) nodes[name] = {{"draining", m.draining}};
  json services = json::object();
  for (const auto& [name, s] : services_) services[name] = service_json(s);
  return {{"version", kSnapshotVersion},   {"apps", apps},
          {"next_app_seq", next_app_seq_}, {"nodes", nodes},
          {"services", services},          {"settings", settings_},
          {"events", events_.to_json()},   {"tokens", tokens_.to_json()}};
}

Bytes CatalogState::snapshot() const { return json::to_msgpack(to_json()); }

Status CatalogState::restore(ByteView data) {
  if (data.empty()) {
    *this = CatalogState(std::move(on_tokens_));
    return Status();
  }
  json j = json::from_msgpack(data.begin(), data.end(), true, false);
  if (j.is_discarded()) return Status::corruption("catalog snapshot is not valid msgpack");
  JsonFields f(j, "catalog snapshot");
  if (f.int64("version") != kSnapshotVersion && f.ok()) {
    f.fail(fmt::format("version {} is not {}", j["version"].dump(), kSnapshotVersion));
  }
  CatalogState next;
  next.next_app_seq_ = f.uint64("next_app_seq");
  for (const auto& [name, a] : f.object("apps").items()) {
    JsonFields af(a, "catalog snapshot: app '" + name + "'");
    AppRecord rec{af.uint64("group"), af.strings("replicas"), af.int64("created_ms"), {}, {}};
    if (af.has("domains")) rec.domains = af.strings("domains", kMaxDomainsPerApp);  // newer
    if (af.has("tls")) {  // newer still
      for (const auto& [host, t] : af.object("tls").items()) {
        JsonFields tf(t, "catalog snapshot: app '" + name + "': tls '" + host + "'");
        DomainTls pair{tf.str("cert", kMaxTlsPemBytes), tf.str("key", kMaxTlsPemBytes)};
        if (!tf.ok()) return Status::corruption(tf.error());
        rec.tls.emplace(host, std::move(pair));
      }
    }
    if (af.ok() && (!is_app_group(rec.group) || app_seq(rec.group) >= next.next_app_seq_)) {
      af.fail(fmt::format("group {} is not an app group below the next seq", rec.group));
    }
    if (!af.ok()) return Status::corruption(af.error());
    next.apps_.emplace(name, std::move(rec));
  }
  for (const auto& [name, m] : f.object("nodes").items()) {
    JsonFields mf(m, "catalog snapshot: node '" + name + "'");
    NodeMark mark{mf.boolean("draining")};
    if (!mf.ok()) return Status::corruption(mf.error());
    next.node_marks_.emplace(name, mark);
  }
  for (const auto& [name, s] : f.object("services").items()) {
    JsonFields sf(s, "catalog snapshot: service '" + name + "'");
    ServiceRecord rec = service_from(sf);
    if (!sf.ok()) return Status::corruption(sf.error());
    next.services_.emplace(name, std::move(rec));
  }
  next.settings_ = f.string_map("settings", kMaxSettingValueBytes);
  if (!f.ok()) return Status::corruption(f.error());
  if (const json* events = f.opt("events")) {  // absent in older snapshots
    auto e = CatalogEvents::from_json(*events);
    if (!e.ok()) return Status::corruption("catalog snapshot: " + e.status().message());
    next.events_ = std::move(*e);
  }
  if (const json* tokens = f.opt("tokens")) {  // absent in older snapshots
    auto t = CatalogTokens::from_json(*tokens);
    if (!t.ok()) return Status::corruption("catalog snapshot: " + t.status().message());
    next.tokens_ = std::move(*t);
  }
  next.on_tokens_ = std::move(on_tokens_);
  *this = std::move(next);
  if (on_tokens_ && tokens_.version() > 0) on_tokens_(tokens_.version(), tokens_.table());
  return Status();
}

// ---- accessors ----

const AppRecord* CatalogState::app(const std::string& name) const {
  auto it = apps_.find(name);
  return it == apps_.end() ? nullptr : &it->second;
}

std::optional<std::string> CatalogState::app_of_group(raft::GroupId group) const {
  for (const auto& [name, a] : apps_) {
    if (a.group == group) return name;
  }
  return std::nullopt;
}

bool CatalogState::draining(const std::string& node) const {
  auto it = node_marks_.find(node);
  return it != node_marks_.end() && it->second.draining;
}

std::optional<std::string> CatalogState::domain_owner(const std::string& host) const {
  for (const auto& [name, a] : apps_) {
    if (std::binary_search(a.domains.begin(), a.domains.end(), host)) return name;
  }
  return std::nullopt;
}

std::optional<std::string> CatalogState::setting(const std::string& key) const {
  auto s = settings_.find(key);
  if (s == settings_.end()) return std::nullopt;
  return s->second;
}

}  // namespace shoal::node::apps
