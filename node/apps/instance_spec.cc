#include "node/apps/instance_spec.h"

#include "node/apps/manifest.h"

namespace shoal::node::apps {

std::optional<supervisor::InstanceSpec> instance_spec(const AppState& app, const Instance& i) {
  const Release* rel = app.release(i.release);
  if (rel == nullptr) return std::nullopt;
  auto manifest = manifest_from_json(rel->manifest);
  if (!manifest.ok()) return std::nullopt;
  const std::string* command = manifest->command(i.type);
  if (command == nullptr) return std::nullopt;
  supervisor::InstanceSpec s;
  s.id = i.id;
  s.type = i.type;
  s.release = static_cast<int64_t>(i.release);
  s.digest = rel->digest;
  s.command = *command;
  s.env = manifest->env;
  for (const auto& [k, v] : rel->config) s.env[k] = v;
  if (auto f = app.formation().find(i.type); f != app.formation().end()) {
    s.memory_mb = f->second.memory_mb;
    s.cpu_millis = f->second.cpu_millis;
  } else {
    const Limits l = manifest->limits_for(i.type);
    s.memory_mb = l.memory_mb;
    s.cpu_millis = l.cpu_millis;
  }
  s.generation = static_cast<int64_t>(i.generation);
  s.stop_grace_ms = manifest->deploy.stop_grace_ms;
  // An app's own metrics are served on PORT by its web process (docs/reporting.md).
  if (manifest->metrics_path && i.type == "web") s.metrics_path = *manifest->metrics_path;
  if (manifest->health && manifest->health->process == i.type) {
    const HealthCheck& h = *manifest->health;
    s.health = supervisor::HealthSpec{h.type,        h.path,
                                      h.command,     h.interval_ms,
                                      h.timeout_ms,  h.start_period_ms,
                                      h.healthy_threshold, h.unhealthy_threshold};
  }
  return s;
}

InstanceReport report_line(const supervisor::InstanceStatus& s) {
  InstanceReport line;
  line.id = s.id;
  line.state = std::string(supervisor::state_name(s.state));
  line.pid = s.pid;
  line.port = s.port;
  line.restarts = s.restarts;
  line.generation = static_cast<uint64_t>(s.generation);
  line.since_ms = s.since_ms;
  line.message = s.message;
  line.health = s.health;
  line.health_output = s.health_output;
  return line;
}

}  // namespace shoal::node::apps
