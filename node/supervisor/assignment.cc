#include "node/supervisor/assignment.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace shoal::node::supervisor {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 8> kStateNames = {
    "pending", "starting", "running", "backoff", "crashed", "stopping", "stopped", "failed"};

// Field readers: each names the field it refuses.
Status need_object(const json& j, std::string_view what) {
  if (!j.is_object()) return Status::invalid_argument(std::string(what) + " must be a JSON object");
  return {};
}

Result<std::string> get_string(const json& j, const char* key, bool required, std::string_view ctx) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return Status::invalid_argument(std::string(ctx) + "\"" + key + "\" is missing");
    return std::string();
  }
  if (!it->is_string()) {
    return Status::invalid_argument(std::string(ctx) + "\"" + key + "\" must be a string");
  }
  return it->get<std::string>();
}

Result<int64_t> get_int(const json& j, const char* key, bool required, std::string_view ctx,
                        int64_t min = 0) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return Status::invalid_argument(std::string(ctx) + "\"" + key + "\" is missing");
    return int64_t{0};
  }
  if (!it->is_number_integer()) {
    return Status::invalid_argument(std::string(ctx) + "\"" + key + "\" must be an integer");
  }
  const int64_t v = it->is_number_unsigned() && it->get<uint64_t>() > INT64_MAX
                        ? INT64_MAX
                        : it->get<int64_t>();
  if (v < min) {
    return Status::invalid_argument(std::string(ctx) + "\"" + key + "\" must be at least " +
                                    std::to_string(min));
  }
  return v;
}

Result<uint64_t> get_u64(const json& j, const char* key, std::string_view ctx) {
  auto it = j.find(key);
  if (it == j.end()) return Status::invalid_argument(std::string(ctx) + "\"" + key + "\" is missing");
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
    return Status::invalid_argument(std::string(ctx) + "\"" + key +
                                    "\" must be a non-negative integer");
  }
  return it->get<uint64_t>();
}

}  // namespace

std::string_view state_name(InstanceState s) { return kStateNames[static_cast<size_t>(s)]; }

Result<InstanceState> parse_state(std::string_view name) {
  for (size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == name) return static_cast<InstanceState>(i);
  }
  return Status::invalid_argument("unknown instance state \"" + std::string(name) + "\"");
}

bool valid_app_name(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool valid_instance_id(std::string_view id) {
  if (id.empty() || id.size() > 100 || id == "." || id == "..") return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) {
      return false;
    }
  }
  return true;
}

Result<HealthSpec> health_spec_from_json(const json& j) {
  SHOAL_RETURN_IF_ERROR(need_object(j, "\"health\""));
  const std::string ctx = "health: ";
  HealthSpec h;
  auto type = get_string(j, "type", true, ctx);
  if (!type) return type.status();
  h.type = *type;
  if (h.type != "http" && h.type != "tcp" && h.type != "command") {
    return Status::invalid_argument(ctx + "\"type\" must be http, tcp or command");
  }
  auto path = get_string(j, "path", false, ctx);
  if (!path) return path.status();
  h.path = path->empty() ? "/" : *path;
  if (h.path.front() != '/' || h.path.find_first_of(" \r\n") != std::string::npos) {
    return Status::invalid_argument(ctx + "\"path\" must start with '/' and hold no spaces");
  }
  auto command = get_string(j, "command", false, ctx);
  if (!command) return command.status();
  h.command = *command;
  if (h.type == "command" && h.command.empty()) {
    return Status::invalid_argument(ctx + "\"command\" is empty");
  }
  auto interval = get_int(j, "interval_ms", true, ctx, 1);
  auto timeout = get_int(j, "timeout_ms", true, ctx, 1);
  auto start_period = get_int(j, "start_period_ms", false, ctx, 0);
  auto healthy = get_int(j, "healthy_threshold", true, ctx, 1);
  auto unhealthy = get_int(j, "unhealthy_threshold", true, ctx, 1);
  for (const Status* st : {&interval.status(), &timeout.status(), &start_period.status(),
                           &healthy.status(), &unhealthy.status()}) {
    if (!st->ok()) return *st;
  }
  if (*healthy > 1000 || *unhealthy > 1000) {
    return Status::invalid_argument(ctx + "thresholds must be at most 1000");
  }
  h.interval_ms = *interval;
  h.timeout_ms = std::min(*timeout, *interval);
  h.start_period_ms = *start_period;
  h.healthy_threshold = static_cast<int>(*healthy);
  h.unhealthy_threshold = static_cast<int>(*unhealthy);
  return h;
}

json to_json(const HealthSpec& h) {
  return json{{"type", h.type},
              {"path", h.path},
              {"command", h.command},
              {"interval_ms", h.interval_ms},
              {"timeout_ms", h.timeout_ms},
              {"start_period_ms", h.start_period_ms},
              {"healthy_threshold", h.healthy_threshold},
              {"unhealthy_threshold", h.unhealthy_threshold}};
}

Result<InstanceSpec> instance_spec_from_json(const json& j) {
  SHOAL_RETURN_IF_ERROR(need_object(j, "an instance"));
  InstanceSpec s;
  auto id = get_string(j, "id", true, "instance: ");
  if (!id) return id.status();
  s.id = *id;
  if (!valid_instance_id(s.id)) {
    return Status::invalid_argument("instance id \"" + s.id +
                                    "\" must be 1..100 characters of [a-z0-9._-]");
  }
  const std::string ctx = "instance " + s.id + ": ";
  auto type = get_string(j, "type", true, ctx);
  if (!type) return type.status();
  s.type = *type;
  if (!valid_instance_id(s.type)) {
    return Status::invalid_argument(ctx + "\"type\" must be 1..100 characters of [a-z0-9._-]");
  }
  auto release = get_int(j, "release", true, ctx);
  if (!release) return release.status();
  s.release = *release;
  auto digest = get_string(j, "digest", false, ctx);
  if (!digest) return digest.status();
  s.digest = *digest;
  auto command = get_string(j, "command", true, ctx);
  if (!command) return command.status();
  s.command = *command;
  if (s.command.empty()) return Status::invalid_argument(ctx + "\"command\" is empty");
  if (auto it = j.find("env"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return Status::invalid_argument(ctx + "\"env\" must be an object");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) {
        return Status::invalid_argument(ctx + "env \"" + k + "\" must be a string");
      }
      if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos) {
        return Status::invalid_argument(ctx + "env name \"" + k + "\" is not a variable name");
      }
      s.env[k] = v.get<std::string>();
    }
  }
  auto mem = get_int(j, "memory_mb", false, ctx);
  if (!mem) return mem.status();
  s.memory_mb = *mem;
  auto cpu = get_int(j, "cpu_millis", false, ctx);
  if (!cpu) return cpu.status();
  s.cpu_millis = *cpu;
  auto gen = get_int(j, "generation", false, ctx);
  if (!gen) return gen.status();
  s.generation = *gen;
  if (auto it = j.find("artifact_peers"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Status::invalid_argument(ctx + "\"artifact_peers\" must be an array");
    for (const auto& p : *it) {
      if (!p.is_string()) {
        return Status::invalid_argument(ctx + "\"artifact_peers\" must hold strings");
      }
      s.artifact_peers.push_back(p.get<std::string>());
    }
  }
  if (auto it = j.find("health"); it != j.end() && !it->is_null()) {
    auto h = health_spec_from_json(*it);
    if (!h) return h.status().with_context("instance " + s.id);
    s.health = std::move(*h);
  }
  constexpr int64_t kMaxStopGraceMs = 3'600'000;  // the leader sends at most 5 min
  auto grace = get_int(j, "stop_grace_ms", false, ctx);
  if (!grace) return grace.status();
  if (*grace > kMaxStopGraceMs) {
    return Status::invalid_argument(ctx + "\"stop_grace_ms\" must be at most " +
                                    std::to_string(kMaxStopGraceMs));
  }
  s.stop_grace_ms = *grace;
  auto metrics = get_string(j, "metrics_path", false, ctx);
  if (!metrics) return metrics.status();
  if (!metrics->empty()) {
    // It becomes a request target: a path, printable, no blanks.
    bool printable = metrics->size() <= 1024 && metrics->front() == '/';
    for (char c : *metrics) printable = printable && c > ' ' && c < 127;
    if (!printable) {
      return Status::invalid_argument(ctx + "\"metrics_path\" must be a path of up to 1024 "
                                            "printable characters starting with '/'");
    }
  }
  s.metrics_path = *metrics;
  return s;
}

Result<Assignment> assignment_from_json(const json& j) {
  SHOAL_RETURN_IF_ERROR(need_object(j, "an assignment"));
  Assignment a;
  auto app = get_string(j, "app", true, "");
  if (!app) return app.status();
  a.app = *app;
  if (!valid_app_name(a.app)) {
    return Status::invalid_argument("app name \"" + a.app + "\" is not a DNS label");
  }
  auto group = get_u64(j, "group", "");
  if (!group) return group.status();
  a.group = *group;
  auto term = get_u64(j, "term", "");
  if (!term) return term.status();
  a.term = *term;
  auto leader = get_string(j, "leader", false, "");
  if (!leader) return leader.status();
  a.leader = *leader;
  auto it = j.find("instances");
  if (it == j.end() || !it->is_array()) {
    return Status::invalid_argument("\"instances\" must be an array");
  }
  for (const auto& ij : *it) {
    auto s = instance_spec_from_json(ij);
    if (!s) return s.status();
    for (const auto& other : a.instances) {
      if (other.id == s->id) {
        return Status::invalid_argument("instance id \"" + s->id + "\" is listed twice");
      }
    }
    a.instances.push_back(std::move(*s));
  }
  return a;
}

Result<Assignment> parse_assignment(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::invalid_argument("the assignment is not valid JSON");
  return assignment_from_json(j);
}

json to_json(const InstanceSpec& s) {
  json j{{"id", s.id},
              {"type", s.type},
              {"release", s.release},
              {"digest", s.digest},
              {"command", s.command},
              {"env", s.env},
              {"memory_mb", s.memory_mb},
              {"cpu_millis", s.cpu_millis},
              {"generation", s.generation},
              {"artifact_peers", s.artifact_peers}};
  if (s.health) j["health"] = to_json(*s.health);
  if (s.stop_grace_ms != 0) j["stop_grace_ms"] = s.stop_grace_ms;
  if (!s.metrics_path.empty()) j["metrics_path"] = s.metrics_path;
  return j;
}

json to_json(const Assignment& a) {
  json instances = json::array();
  for (const auto& s : a.instances) instances.push_back(to_json(s));
  return json{{"app", a.app},
              {"group", a.group},
              {"term", a.term},
              {"leader", a.leader},
              {"instances", std::move(instances)}};
}

// A measure not known yet (-1: the first sample has no CPU window) is left out, as the
// reader takes an absent field for unknown, rather than shown as a negative number.
json to_json(const ResourceUsage& u) {
  json j = {{"sampled_ms", u.sampled_ms}, {"window_ms", u.window_ms}, {"oom_kills", u.oom_kills}};
  if (u.cpu_millis >= 0) {
    j["cpu_millis"] = u.cpu_millis;
    j["cpu_percent"] = std::round(u.cpu_percent * 10) / 10;
  }
  if (u.memory_bytes >= 0) j["memory_bytes"] = u.memory_bytes;
  if (u.rss_bytes >= 0) j["rss_bytes"] = u.rss_bytes;
  if (u.nr_throttled >= 0) j["nr_throttled"] = u.nr_throttled;
  return j;
}

Result<ResourceUsage> resource_usage_from_json(const json& j) {
  SHOAL_RETURN_IF_ERROR(need_object(j, "\"usage\""));
  ResourceUsage u;
  const char* ctx = "report usage: ";
  auto sampled = get_int(j, "sampled_ms", true, ctx);
  auto window = get_int(j, "window_ms", false, ctx);
  auto cpu = get_int(j, "cpu_millis", false, ctx, -1);
  auto mem = get_int(j, "memory_bytes", false, ctx, -1);
  auto rss = get_int(j, "rss_bytes", false, ctx, -1);
  auto oom = get_int(j, "oom_kills", false, ctx);
  auto thr = get_int(j, "nr_throttled", false, ctx, -1);
  for (const Status* st : {&sampled.status(), &window.status(), &cpu.status(), &mem.status(),
                           &rss.status(), &oom.status(), &thr.status()}) {
    if (!st->ok()) return *st;
  }
  u.sampled_ms = *sampled;
  u.window_ms = *window;
  u.cpu_millis = *cpu;
  u.memory_bytes = *mem;
  u.rss_bytes = *rss;
  u.oom_kills = *oom;
  u.nr_throttled = *thr;
  if (auto it = j.find("cpu_percent"); it != j.end() && !it->is_null()) {
    if (!it->is_number()) return Status::invalid_argument("report usage: \"cpu_percent\" must be a number");
    u.cpu_percent = it->get<double>();
  }
  return u;
}

json to_json(const InstanceStatus& s) {
  json j{{"id", s.id},
              {"type", s.type},
              {"state", std::string(state_name(s.state))},
              {"pid", s.pid},
              {"port", s.port},
              {"restarts", s.restarts},
              {"generation", s.generation},
              {"since_ms", s.since_ms},
              {"message", s.message},
              {"health", s.health},
              {"health_output", s.health_output}};
  if (s.usage) j["usage"] = to_json(*s.usage);
  return j;
}

json to_json(const AssignReport& r) {
  json instances = json::array();
  for (const auto& s : r.instances) instances.push_back(to_json(s));
  return json{{"node", r.node}, {"instances", std::move(instances)}};
}

Result<AssignReport> parse_assign_report(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::invalid_argument("the report is not a JSON object");
  }
  AssignReport r;
  auto node = get_string(j, "node", true, "report: ");
  if (!node) return node.status();
  r.node = *node;
  auto it = j.find("instances");
  if (it == j.end() || !it->is_array()) {
    return Status::invalid_argument("report: \"instances\" must be an array");
  }
  for (const auto& ij : *it) {
    SHOAL_RETURN_IF_ERROR(need_object(ij, "a reported instance"));
    InstanceStatus s;
    auto id = get_string(ij, "id", true, "report: ");
    if (!id) return id.status();
    s.id = *id;
    auto type = get_string(ij, "type", false, "report: ");
    if (!type) return type.status();
    s.type = *type;
    auto state_text = get_string(ij, "state", true, "report: ");
    if (!state_text) return state_text.status();
    auto state = parse_state(*state_text);
    if (!state) return state.status();
    s.state = *state;
    auto pid = get_int(ij, "pid", false, "report: ");
    auto port = get_int(ij, "port", false, "report: ");
    auto restarts = get_int(ij, "restarts", false, "report: ");
    auto gen = get_int(ij, "generation", false, "report: ");
    auto since = get_int(ij, "since_ms", false, "report: ");
    auto message = get_string(ij, "message", false, "report: ");
    auto health = get_string(ij, "health", false, "report: ");  // absent: an older node
    auto health_output = get_string(ij, "health_output", false, "report: ");
    for (const Status* st : {&pid.status(), &port.status(), &restarts.status(), &gen.status(),
                             &since.status(), &message.status(), &health.status(),
                             &health_output.status()}) {
      if (!st->ok()) return *st;
    }
    s.pid = static_cast<int>(*pid);
    s.port = static_cast<int>(*port);
    s.restarts = static_cast<int>(*restarts);
    s.generation = *gen;
    s.since_ms = *since;
    s.message = *message;
    s.health = health->empty() ? "none" : *health;
    if (s.health != "none" && s.health != "starting" && s.health != "healthy" &&
        s.health != "unhealthy") {
      return Status::invalid_argument("report: unknown health \"" + s.health + "\"");
    }
    s.health_output = *health_output;
    if (auto u = ij.find("usage"); u != ij.end() && !u->is_null()) {  // absent: an older node
      auto usage = resource_usage_from_json(*u);
      if (!usage) return usage.status();
      s.usage = *usage;
    }
    r.instances.push_back(std::move(s));
  }
  return r;
}

}  // namespace shoal::node::supervisor
