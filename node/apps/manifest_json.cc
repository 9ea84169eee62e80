// Manifest <-> JSON: the form a release stores (AppState) and the leader reads back.
#include <nlohmann/json.hpp>

#include "node/apps/json_fields.h"
#include "node/apps/manifest.h"

namespace shoal::node::apps {
namespace {

using json = nlohmann::json;

Status bad(std::string_view msg) { return Status::invalid_argument(msg); }

}  // namespace

json to_json(const Manifest& m) {
  json processes = json::array();
  for (const auto& p : m.processes) processes.push_back({{"type", p.type}, {"command", p.command}});
  auto limits_json = [](const Limits& l) {
    return json{{"memory_mb", l.memory_mb}, {"cpu_millis", l.cpu_millis}};
  };
  json type_limits = json::object();
  for (const auto& [t, l] : m.type_limits) type_limits[t] = limits_json(l);
  json health = nullptr;
  if (m.health) {
    const HealthCheck& h = *m.health;
    health = {{"type", h.type},
              {"process", h.process},
              {"path", h.path},
              {"command", h.command},
              {"interval_ms", h.interval_ms},
              {"timeout_ms", h.timeout_ms},
              {"start_period_ms", h.start_period_ms},
              {"healthy_threshold", h.healthy_threshold},
              {"unhealthy_threshold", h.unhealthy_threshold}};
  }
  json autoscale = json::object();
  for (const auto& [t, r] : m.autoscale) {
    autoscale[t] = {{"min", r.min}, {"max", r.max}, {"target_cpu_percent", r.target_cpu_percent},
                    {"target_rps", r.target_rps}, {"cooldown_ms", r.cooldown_ms},
                    {"window_ms", r.window_ms}};
  }
  return {{"processes", processes},
          {"build", m.build ? json(*m.build) : json(nullptr)},
          {"env", m.env},
          {"formation", m.formation},
          {"limits", limits_json(m.limits)},
          {"type_limits", type_limits},
          {"packages", m.packages},
          {"health", health},
          {"metrics_path", m.metrics_path ? json(*m.metrics_path) : json(nullptr)},
          {"autoscale", autoscale},
          {"deploy",
           {{"max_surge", m.deploy.max_surge},
            {"max_unavailable", m.deploy.max_unavailable},
            {"stop_grace_ms", m.deploy.stop_grace_ms},
            {"healthy_deadline_ms", m.deploy.healthy_deadline_ms}}}};
}

Result<Manifest> manifest_from_json(const json& j) {
  JsonFields f(j, "manifest");
  Manifest m;
  for (const auto& p : f.array("processes")) {
    JsonFields pf(p, "manifest process");
    ProcessType pt{pf.str("type"), pf.str("command", kMaxShellCommandBytes)};
    if (!pf.ok()) return bad(pf.error());
    m.processes.push_back(std::move(pt));
  }
  m.build = f.opt_str("build", kMaxShellCommandBytes);
  m.env = f.string_map("env");
  for (const auto& [type, n] : f.object("formation").items()) {
    auto count = json_int(n, 0, kMaxInstancesPerType);
    if (!count) return bad("manifest: formation." + type + " must be from 0 to 100");
    m.formation[type] = static_cast<int>(*count);
  }
  auto limits_from = [](const json& l, const std::string& what) -> Result<Limits> {
    JsonFields lf(l, what);
    Limits out{lf.int64("memory_mb"), lf.int64("cpu_millis")};
    if (!lf.ok()) return bad(lf.error());
    return out;
  };
  if (f.ok()) {
    auto l = limits_from(f.object("limits"), "manifest limits");
    if (!l.ok()) return l.status();
    m.limits = *l;
    for (const auto& [type, tl] : f.object("type_limits").items()) {
      auto t = limits_from(tl, "manifest limits." + type);
      if (!t.ok()) return t.status();
      m.type_limits[type] = *t;
    }
  }
  m.packages = f.strings("packages");
  if (const json* h = f.opt("health")) {
    JsonFields hf(*h, "manifest health");
    HealthCheck hc;
    hc.type = hf.str("type");
    hc.process = hf.str("process");
    hc.path = hf.str("path");
    hc.command = hf.str("command", kMaxShellCommandBytes);
    hc.interval_ms = hf.int64("interval_ms");
    hc.timeout_ms = hf.int64("timeout_ms");
    hc.start_period_ms = hf.int64("start_period_ms");
    hc.healthy_threshold = static_cast<int>(hf.int64("healthy_threshold", 1, 100));
    hc.unhealthy_threshold = static_cast<int>(hf.int64("unhealthy_threshold", 1, 100));
    if (!hf.ok()) return bad(hf.error());
    m.health = hc;
  }
  m.metrics_path = f.opt_str("metrics_path");
  if (const json* a = f.opt("autoscale"); a != nullptr && a->is_object()) {  // absent: older
    for (const auto& [type, rj] : a->items()) {
      JsonFields af(rj, "manifest autoscale." + type);
      AutoscaleRule r;
      r.min = static_cast<int>(af.int64("min", 0, kMaxInstancesPerType));
      r.max = static_cast<int>(af.int64("max", 0, kMaxInstancesPerType));
      r.target_cpu_percent = static_cast<int>(af.int64("target_cpu_percent", 1, 100));
      if (auto rps = af.opt_int64("target_rps", 0, kMaxTargetRps)) r.target_rps = *rps;  // newer
      r.cooldown_ms = af.int64("cooldown_ms", 0);
      r.window_ms = af.int64("window_ms", 0);
      if (!af.ok()) return bad(af.error());
      m.autoscale[type] = r;
    }
  }
  if (const json* d = f.opt("deploy")) {  // absent in releases made before [deploy]
    JsonFields df(*d, "manifest deploy");
    m.deploy.max_surge = static_cast<int>(df.int64("max_surge", 0, kMaxInstancesPerType));
    m.deploy.max_unavailable =
        static_cast<int>(df.int64("max_unavailable", 0, kMaxInstancesPerType));
    m.deploy.stop_grace_ms = df.int64("stop_grace_ms");
    m.deploy.healthy_deadline_ms = df.int64("healthy_deadline_ms");
    if (!df.ok()) return bad(df.error());
  }
  if (!f.ok()) return bad(f.error());
  SHOAL_RETURN_IF_ERROR(validate_manifest(m).with_context("manifest"));
  return m;
}

}  // namespace shoal::node::apps
