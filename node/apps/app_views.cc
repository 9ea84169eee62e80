#include "node/apps/app_views.h"

namespace shoal::node::apps {

using nlohmann::json;

json formation_json(const AppState& app) {
  json out = json::object();
  for (const auto& [type, f] : app.formation()) {
    out[type] = {{"count", f.count}, {"memory_mb", f.memory_mb}, {"cpu_millis", f.cpu_millis}};
  }
  return out;
}

std::pair<size_t, size_t> instance_counts(const AppState& app) {
  size_t running = 0, total = 0;
  for (const auto& [_, i] : app.instances()) {
    if (!i.desired) continue;
    ++total;
    if (i.state == "running") ++running;
  }
  return {running, total};
}

json info_json(const AppState& app) {
  const auto [running, total] = instance_counts(app);
  json out = {{"name", app.name()},
              {"release", app.current_version()},
              {"formation", formation_json(app)},
              {"stopped", app.stopped()},
              {"instances", {{"running", running}, {"total", total}}},
              {"config_vars", app.config().size()}};
  if (const Release* r = app.current_release()) {
    out["digest"] = r->digest;
    out["released_ms"] = r->created_ms;
    out["processes"] = json::object();
    if (const Manifest* m = app.current_manifest()) {
      for (const auto& p : m->processes) out["processes"][p.type] = p.command;
    }
  }
  return out;
}

json ps_json(const AppState& app) {
  json list = json::array();
  for (const auto& [id, i] : app.instances()) {
    list.push_back({{"id", i.id},
                    {"type", i.type},
                    {"node", i.node},
                    {"release", i.release},
                    {"state", i.desired || i.state == "stopped" || i.state == "lost" ? i.state
                                                                                  : "stopping"},
                    {"desired", i.desired},
                    {"replacing", i.replace},
                    {"pid", i.pid},
                    {"port", i.port},
                    {"restarts", i.restarts},
                    {"generation", i.generation},
                    {"since_ms", i.since_ms},
                    {"message", i.message},
                    {"health", i.health},
                    {"health_output", i.health_output}});
  }
  return {{"app", app.name()},
          {"release", app.current_version()},
          {"stopped", app.stopped()},
          {"formation", formation_json(app)},
          {"instances", std::move(list)}};
}

json releases_json(const AppState& app) {
  json list = json::array();
  for (auto it = app.releases().rbegin(); it != app.releases().rend(); ++it) {
    const Release& r = it->second;
    json j = {{"version", r.version},
              {"digest", r.digest},
              {"description", r.description},
              {"created_ms", r.created_ms},
              {"current", r.version == app.current_version()}};
    if (!r.commit.empty()) j["commit"] = r.commit;
    list.push_back(std::move(j));
  }
  return {{"app", app.name()}, {"releases", std::move(list)}};
}

}  // namespace shoal::node::apps
