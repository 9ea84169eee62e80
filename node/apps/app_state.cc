#include "node/apps/app_state.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "node/apps/json_fields.h"
#include "node/apps/names.h"

namespace shoal::node::apps {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxConfigVars = 1000;
constexpr size_t kMaxConfigValueBytes = 32 << 10;
constexpr size_t kMaxMessageBytes = 4096;

Bytes invalid(std::string_view msg) { return error_result(ErrorCode::invalid, msg); }
Bytes not_found(std::string_view msg) { return error_result(ErrorCode::not_found, msg); }
Bytes conflict(std::string_view msg) { return error_result(ErrorCode::conflict, msg); }

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string known_types(const std::map<std::string, FormationEntry>& formation) {
  std::vector<std::string> names;
  for (const auto& [t, f] : formation) names.push_back(t);
  return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
}

// A command's optional time: only when known (events_ takes the newest seen otherwise).
json with_time(json command, int64_t now_ms) {
  if (now_ms > 0) command["now_ms"] = now_ms;
  return command;
}

}  // namespace

bool is_reported_state(std::string_view state) {
  for (std::string_view s :
       {"pending", "starting", "running", "backoff", "crashed", "stopping", "stopped", "failed",
        "lost"}) {
    if (state == s) return true;
  }
  return false;
}

bool is_health(std::string_view health) {
  return health == "none" || health == "starting" || health == "healthy" ||
         health == "unhealthy";
}

bool is_up(const Instance& i) {
  return i.state == "running" && (i.health == "healthy" || i.health == "none");
}

// ---- builders ----

Bytes AppState::set_app(std::string_view name) {
  return encode_command({{"op", "set_app"}, {"name", name}});
}

Bytes AppState::add_release(std::string_view digest, std::string_view source_digest,
                            const json& manifest, std::string_view description, int64_t now_ms,
                            std::string_view commit) {
  return encode_command({{"op", "add_release"},
                         {"digest", digest},
                         {"source_digest", source_digest},
                         {"manifest", manifest},
                         {"description", description},
                         {"now_ms", now_ms},
                         {"commit", commit}});
}

Bytes AppState::set_config(const std::map<std::string, std::string>& set,
                           const std::vector<std::string>& unset, int64_t now_ms) {
  return encode_command({{"op", "set_config"}, {"set", set}, {"unset", unset}, {"now_ms", now_ms}});
}

Bytes AppState::rollback(std::optional<uint64_t> version, int64_t now_ms,
                         std::string_view description, std::optional<uint64_t> if_current) {
  json c = {{"op", "rollback"},
            {"version", version ? json(*version) : json(nullptr)},
            {"now_ms", now_ms}};
  if (!description.empty()) c["description"] = description;
  if (if_current) c["if_current"] = *if_current;
  return encode_command(c);
}

Bytes AppState::scale(const std::map<std::string, int>& counts, int64_t now_ms) {
  return encode_command(with_time({{"op", "scale"}, {"counts", counts}}, now_ms));
}

Bytes AppState::set_limits(std::string_view type, std::optional<int64_t> memory_mb,
                           std::optional<int64_t> cpu_millis) {
  return encode_command({{"op", "set_limits"},
                         {"type", type},
                         {"memory_mb", memory_mb ? json(*memory_mb) : json(nullptr)},
                         {"cpu_millis", cpu_millis ? json(*cpu_millis) : json(nullptr)}});
}

Bytes AppState::set_stopped(bool stopped, int64_t now_ms) {
  return encode_command(with_time({{"op", "set_stopped"}, {"stopped", stopped}}, now_ms));
}

Bytes AppState::restart(std::string_view target, int64_t now_ms) {
  return encode_command(with_time({{"op", "restart"}, {"target", target}}, now_ms));
}

Bytes AppState::place(std::string_view type, std::string_view node, uint64_t release,
                      int64_t now_ms) {
  return encode_command(
      {{"op", "place"}, {"type", type}, {"node", node}, {"release", release}, {"now_ms", now_ms}});
}

Bytes AppState::unplace(std::string_view id, int64_t now_ms) {
  return encode_command(with_time({{"op", "unplace"}, {"id", id}}, now_ms));
}

Bytes AppState::remove_instance(std::string_view id) {
  return encode_command({{"op", "remove_instance"}, {"id", id}});
}

Bytes AppState::replace_instance(std::string_view id) {
  return encode_command({{"op", "replace_instance"}, {"id", id}});
}

Bytes AppState::report(std::string_view node, const std::vector<InstanceReport>& instances,
                       int64_t now_ms) {
  json lines = json::array();
  for (const auto& r : instances) {
    lines.push_back({{"id", r.id},
                     {"state", r.state},
                     {"pid", r.pid},
                     {"port", r.port},
                     {"restarts", r.restarts},
                     {"generation", r.generation},
                     {"since_ms", r.since_ms},
                     {"message", r.message},
                     {"health", r.health},
                     {"health_output", r.health_output}});
  }
  return encode_command(
      with_time({{"op", "report"}, {"node", node}, {"instances", lines}}, now_ms));
}

// ---- apply ----

Bytes AppState::apply(const raft::Entry& entry) {
  auto command = decode_command(entry.data);
  if (!command.ok()) return invalid("app: " + command.status().message());
  const AppEvents::Before before = events_.observe(*this, *command);
  Bytes result = apply_command(*command);
  prune_releases();
  events_.derive(before, *this, *command, result);
  return result;
}

Bytes AppState::apply_command(const json& command) {
  JsonFields f(command, "app command");
  const std::string op = f.str("op", 64);
  if (!f.ok()) return invalid(f.error());
  if (op == "add_release") return do_add_release(command);
  if (op == "set_config") return do_set_config(command);
  if (op == "rollback") return do_rollback(command);
  if (op == "scale") return do_scale(command);
  if (op == "set_limits") return do_set_limits(command);
  if (op == "restart") return do_restart(command);
  if (op == "place") return do_place(command);
  if (op == "report") return do_report(command);
  if (events_.is_event_op(op)) return events_.apply_op(*this, command);

  JsonFields c(command, op);
  if (op == "set_app") {
    const std::string name = c.str("name", 256);
    if (!c.ok()) return invalid(c.error());
    if (Status s = validate_app_name(name); !s.ok()) return error_result(s);
    if (!name_.empty() && name_ != name) {
      return conflict("this group belongs to app '" + name_ + "', not '" + name + "'");
    }
    name_ = name;
    return ok_result({{"name", name}});
  }
  if (op == "set_stopped") {
    const bool stopped = c.boolean("stopped");
    if (!c.ok()) return invalid(c.error());
    stopped_ = stopped;
    return ok_result({{"stopped", stopped}});
  }
  if (op == "unplace" || op == "remove_instance" || op == "replace_instance") {
    const std::string id = c.str("id", 256);
    if (!c.ok()) return invalid(c.error());
    auto it = instances_.find(id);
    if (it == instances_.end()) return not_found("no instance '" + id + "'");
    if (op == "unplace") {
      it->second.desired = false;
    } else if (op == "replace_instance") {
      if (!it->second.desired) return not_found("instance '" + id + "' is being stopped");
      it->second.replace = true;
    } else {
      instances_.erase(it);
    }
    return ok_result({{"id", id}});
  }
  return invalid("unknown app command '" + op + "'");
}

uint64_t AppState::push_release(Release r, Manifest manifest) {
  const std::optional<Manifest> previous = std::move(current_manifest_);
  r.version = next_version_++;
  for (const auto& type : manifest.types()) {
    const Limits limits = manifest.limits_for(type);
    auto it = formation_.find(type);
    if (it == formation_.end()) {
      formation_[type] = {manifest.default_count(type), limits.memory_mb, limits.cpu_millis};
    } else if (!previous || previous->limits_for(type) != limits) {
      it->second.memory_mb = limits.memory_mb;  // the manifest's limits changed: they win
      it->second.cpu_millis = limits.cpu_millis;
    }
  }
  std::erase_if(formation_, [&](const auto& kv) { return !manifest.has_type(kv.first); });
  config_ = r.config;
  current_ = r.version;
  current_manifest_ = std::move(manifest);
  releases_[r.version] = std::move(r);
  return current_;
}

Bytes AppState::do_add_release(const json& command) {
  JsonFields c(command, "add_release");
  Release r;
  r.digest = c.str("digest", 64);
  r.source_digest = c.str("source_digest", 64);
  const json& manifest_json = c.object("manifest");
  r.description = c.str("description", 256);
  r.created_ms = c.int64("now_ms", 0);
  r.commit = c.opt_str("commit", 64).value_or("");
  if (!c.ok()) return invalid(c.error());
  if (!is_sha256_hex(r.digest)) {
    return invalid("add_release: digest '" + r.digest + "' is not 64 lowercase hex digits");
  }
  if (!r.source_digest.empty() && !is_sha256_hex(r.source_digest)) {
    return invalid("add_release: source_digest '" + r.source_digest +
                   "' is not 64 lowercase hex digits");
  }
  auto manifest = manifest_from_json(manifest_json);
  if (!manifest.ok()) return invalid("add_release: " + manifest.status().message());
  if (r.description.empty()) r.description = "deploy";
  r.manifest = manifest_json;
  r.config = config_;
  return ok_result({{"release", push_release(std::move(r), std::move(*manifest))}});
}

Bytes AppState::do_set_config(const json& command) {
  JsonFields c(command, "set_config");
  const auto set = c.string_map("set", kMaxConfigValueBytes);
  const auto unset = c.strings("unset", kMaxConfigVars);
  const int64_t now_ms = c.int64("now_ms", 0);
  if (!c.ok()) return invalid(c.error());
  if (set.empty() && unset.empty()) return invalid("set_config: nothing to set or unset");
  auto config = config_;
  for (const auto& [k, v] : set) {
    if (Status s = validate_config_key(k); !s.ok()) return error_result(s);
    config[k] = v;
  }
  for (const auto& k : unset) {
    if (Status s = validate_config_key(k); !s.ok()) return error_result(s);
    if (set.contains(k)) return invalid("config var '" + k + "' is both set and unset");
    config.erase(k);
  }
  if (config.size() > kMaxConfigVars) {
    return invalid(fmt::format("an app has at most {} config vars", kMaxConfigVars));
  }
  std::vector<std::string> set_keys;
  for (const auto& [k, v] : set) set_keys.push_back(k);
  std::string description;
  if (!set_keys.empty()) description = fmt::format("config set {}", fmt::join(set_keys, " "));
  if (!unset.empty()) {
    description +=
        fmt::format("{}config unset {}", description.empty() ? "" : "; ", fmt::join(unset, " "));
  }
  if (description.size() > 256) {  // many keys: a count says enough
    description = fmt::format("config set {} vars, unset {}", set.size(), unset.size());
  }
  if (current_ == 0) {  // no code yet: the first deploy's release takes this config
    config_ = std::move(config);
    return ok_result({{"release", nullptr}});
  }
  Release r = releases_.at(current_);
  r.config = std::move(config);
  r.description = std::move(description);
  r.created_ms = now_ms;
  Manifest manifest = *current_manifest_;
  return ok_result({{"release", push_release(std::move(r), std::move(manifest))}});
}

Bytes AppState::do_rollback(const json& command) {
  JsonFields c(command, "rollback");
  const std::optional<int64_t> wanted = c.opt_int64("version", 1);
  const int64_t now_ms = c.int64("now_ms", 0);
  const std::optional<std::string> description = c.opt_str("description", 1024);
  const std::optional<int64_t> if_current = c.opt_int64("if_current", 0);
  if (!c.ok()) return invalid(c.error());
  if (current_ == 0) return conflict("no release to roll back from: deploy first");
  if (if_current && static_cast<uint64_t>(*if_current) != current_) {
    return conflict(fmt::format("v{} is no longer current (v{} is)", *if_current, current_));
  }
  uint64_t target = 0;
  if (wanted) {
    target = static_cast<uint64_t>(*wanted);
    if (target == current_) return conflict(fmt::format("v{} is the current release", target));
    if (!releases_.contains(target)) {
      return not_found(target < next_version_
                           ? fmt::format("release v{} is no longer kept (only the last {} are)",
                                         target, kKeptReleases)
                           : fmt::format("there is no release v{}", target));
    }
  } else {
    auto it = releases_.find(current_);
    if (it == releases_.begin()) {
      return not_found(fmt::format("no kept release before v{} to roll back to", current_));
    }
    target = std::prev(it)->first;
  }
  Release r = releases_.at(target);
  auto manifest = manifest_from_json(r.manifest);
  if (!manifest.ok()) return invalid("rollback: " + manifest.status().message());  // not reached
  r.description = description ? *description : fmt::format("rollback to v{}", target);
  r.created_ms = now_ms;
  return ok_result(
      {{"release", push_release(std::move(r), std::move(*manifest))}, {"from", target}});
}

Bytes AppState::do_scale(const json& command) {
  JsonFields c(command, "scale");
  const json& counts = c.object("counts");
  if (!c.ok()) return invalid(c.error());
  if (current_ == 0) return conflict("no release yet: deploy before scaling");
  if (counts.empty()) return invalid("scale: no process type given");
  std::map<std::string, int> next;
  for (const auto& [type, n] : counts.items()) {
    if (!formation_.contains(type)) {
      return invalid(fmt::format("unknown process type '{}' (this release has: {})", type,
                                 known_types(formation_)));
    }
    auto count = json_int(n, 0, kMaxInstancesPerType);
    if (!count) {
      return invalid(fmt::format("scale: {}={} is not a count from 0 to {}", type, n.dump(),
                                 kMaxInstancesPerType));
    }
    // An autoscaled type's count moves within its [autoscale.TYPE] range only.
    const AutoscaleRule* rule = current_manifest_ ? current_manifest_->autoscale_for(type) : nullptr;
    if (rule != nullptr && (*count < rule->min || *count > rule->max)) {
      return invalid(fmt::format("{} autoscales from {} to {} ([autoscale.{}] in shoal.toml): {} "
                                 "is outside that range",
                                 type, rule->min, rule->max, type, *count));
    }
    next[type] = static_cast<int>(*count);
  }
  for (const auto& [type, n] : next) formation_[type].count = n;
  return ok_result({{"formation", formation_json()}});
}

Bytes AppState::do_set_limits(const json& command) {
  JsonFields c(command, "set_limits");
  const std::string type = c.str("type", 64);
  const auto memory_mb = c.opt_int64("memory_mb");
  const auto cpu_millis = c.opt_int64("cpu_millis");
  if (!c.ok()) return invalid(c.error());
  auto it = formation_.find(type);
  if (it == formation_.end()) {
    return invalid(fmt::format("unknown process type '{}' (this release has: {})", type,
                               known_types(formation_)));
  }
  if (!memory_mb && !cpu_millis) return invalid("set_limits: give memory_mb, cpu_millis or both");
  Limits l{memory_mb.value_or(it->second.memory_mb), cpu_millis.value_or(it->second.cpu_millis)};
  Manifest probe;  // reuse the manifest's range checks
  probe.processes.push_back({type, "x"});
  probe.limits = l;
  if (Status s = validate_manifest(probe); !s.ok()) return error_result(s);
  it->second.memory_mb = l.memory_mb;
  it->second.cpu_millis = l.cpu_millis;
  return ok_result({{"formation", formation_json()}});
}

Bytes AppState::do_restart(const json& command) {
  JsonFields c(command, "restart");
  const std::string target = c.opt_str("target", 256).value_or("");
  if (!c.ok()) return invalid(c.error());
  const bool is_instance = instances_.contains(target);
  const bool is_type =
      formation_.contains(target) || (current_manifest_ && current_manifest_->has_type(target));
  if (!target.empty() && !is_instance && !is_type) {
    return not_found(fmt::format("'{}' is neither a process type ({}) nor an instance", target,
                                 known_types(formation_)));
  }
  json restarted = json::array();
  for (auto& [id, inst] : instances_) {
    const bool match = target.empty() || (is_instance ? id == target : inst.type == target);
    if (match && (inst.desired || is_instance)) {
      if (is_instance) {
        ++inst.generation;
      } else {
        inst.replace = true;
      }
      restarted.push_back(id);
    }
  }
  return ok_result({{"restarted", restarted}});
}

Bytes AppState::do_place(const json& command) {
  JsonFields c(command, "place");
  const std::string type = c.str("type", 64);
  const std::string node = c.str("node", 256);
  const uint64_t version = c.uint64("release");
  const int64_t now_ms = c.int64("now_ms", 0);
  if (!c.ok()) return invalid(c.error());
  if (Status s = validate_node_name(node); !s.ok()) return error_result(s);
  auto rel = releases_.find(version);
  if (rel == releases_.end()) return not_found(fmt::format("release v{} is not kept", version));
  auto manifest = manifest_from_json(rel->second.manifest);
  if (!manifest.ok() || !manifest->has_type(type)) {
    return invalid(fmt::format("release v{} has no process type '{}'", version, type));
  }
  if (instances_.size() >= kMaxInstances) {
    return conflict(fmt::format("the instance table is full ({} instances)", kMaxInstances));
  }
  Instance inst;
  inst.id = fmt::format("{}.{}", type, next_instance_seq_++);
  inst.type = type;
  inst.node = node;
  inst.release = version;
  inst.since_ms = now_ms;
  const std::string id = inst.id;
  instances_.emplace(id, std::move(inst));
  return ok_result({{"id", id}});
}

Bytes AppState::do_report(const json& command) {
  JsonFields c(command, "report");
  const std::string node = c.str("node", 256);
  const json& lines = c.array("instances");
  if (!c.ok()) return invalid(c.error());
  if (lines.size() > kMaxInstances) return invalid("report: too many instances");
  std::vector<InstanceReport> reports;
  for (const auto& line : lines) {
    JsonFields l(line, "report line");
    InstanceReport r;
    r.id = l.str("id", 256);
    r.state = l.str("state", 32);
    r.pid = l.int64("pid", 0, INT32_MAX);
    r.port = l.int64("port", 0, 65535);
    r.restarts = l.int64("restarts", 0);
    r.generation = l.has("generation") ? l.uint64("generation") : 0;
    r.since_ms = l.int64("since_ms", 0);
    r.message = l.opt_str("message", kMaxMessageBytes).value_or("");
    r.health = l.opt_str("health", 16).value_or("none");  // absent: a report of an older node
    r.health_output = l.opt_str("health_output", kMaxMessageBytes).value_or("");
    if (l.ok() && !is_health(r.health)) {
      l.fail(fmt::format("'{}' is not a health state", r.health));
    }
    if (l.ok() && !is_reported_state(r.state)) {
      l.fail(fmt::format("'{}' is not an instance state", r.state));
    }
    if (!l.ok()) return invalid(l.error());
    reports.push_back(std::move(r));
  }
  int updated = 0;
  json ignored = json::array();
  for (auto& r : reports) {
    auto it = instances_.find(r.id);
    if (it == instances_.end() || it->second.node != node) {
      ignored.push_back(r.id);  // moved away, forgotten, or another node's: not its to say
      continue;
    }
    Instance& inst = it->second;
    inst.state = std::move(r.state);
    inst.pid = r.pid;
    inst.port = r.port;
    inst.restarts = r.restarts;
    inst.reported_generation = r.generation;
    inst.since_ms = r.since_ms;
    inst.message = std::move(r.message);
    inst.health = std::move(r.health);
    inst.health_output = std::move(r.health_output);
    ++updated;
  }
  return ok_result({{"updated", updated}, {"ignored", ignored}});
}

void AppState::prune_releases() {
  if (releases_.size() <= kKeptReleases) return;
  std::set<uint64_t> in_use;
  for (const auto& [id, inst] : instances_) in_use.insert(inst.release);
  // The newest kKeptReleases stay; an older one stays while an instance runs it.
  const uint64_t oldest_kept = std::prev(releases_.end(), kKeptReleases)->first;
  std::erase_if(releases_, [&](const auto& kv) {
    return kv.first < oldest_kept && !in_use.contains(kv.first);
  });
}

json AppState::formation_json() const {
  json out = json::object();
  for (const auto& [type, f] : formation_) {
    out[type] = {{"count", f.count}, {"memory_mb", f.memory_mb}, {"cpu_millis", f.cpu_millis}};
  }
  return out;
}

// ---- reads ----

const Release* AppState::release(uint64_t version) const {
  auto it = releases_.find(version);
  return it == releases_.end() ? nullptr : &it->second;
}

const Instance* AppState::instance(const std::string& id) const {
  auto it = instances_.find(id);
  return it == instances_.end() ? nullptr : &it->second;
}

std::set<std::string> AppState::kept_digests() const {
  std::set<std::string> out;
  for (const auto& [v, r] : releases_) {
    out.insert(r.digest);
    if (!r.source_digest.empty()) out.insert(r.source_digest);
  }
  return out;
}

}  // namespace shoal::node::apps
