#include "node/apps/app_events.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "node/apps/app_state.h"
#include "node/apps/json_fields.h"
#include "node/apps/names.h"

namespace shoal::node::apps {

using json = nlohmann::json;

namespace {

bool is_kind(std::string_view k) {
  if (k.empty() || k.size() > 64) return false;
  return std::all_of(k.begin(), k.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

// A string member, or "" (never throws on a command of the wrong shape).
std::string text_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string seconds(int64_t ms) { return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000); }

// The instance's state after a report, as an event kind ("" for none worth telling).
std::string state_event(const AppEvents::Seen& was, const Instance& now) {
  if (now.state == was.state) {
    // Restarted between two reports: the state looks the same, the count moved.
    if (now.state == "running" && now.restarts > was.restarts) return "restarted";
    return "";
  }
  if (now.state == "running") {
    // Reports come in batches, so the backoff or the new generation may have been seen in
    // an earlier report ("starting", restarts 1) than the running one. An instance is new
    // at placement (fresh id, counters at zero), so any count means it ran here before.
    const bool again = was.state == "backoff" || was.state == "crashed" || now.restarts > 0 ||
                       now.reported_generation > 0;
    return again ? "restarted" : "started";
  }
  if (now.state == "backoff") return "crashed";
  if (now.state == "crashed") return "crash_loop";
  if (now.state == "failed" || now.state == "stopped" || now.state == "lost") return now.state;
  return "";  // pending, starting, stopping: on the way to one of the above
}

}  // namespace

// ---- builders ----

Bytes app_node_failed(std::string_view node, int64_t now_ms, std::string_view how) {
  return encode_command(
      {{"op", "node_failed"}, {"node", node}, {"now_ms", now_ms}, {"how", how}});
}

Bytes app_leader_changed(std::string_view node, uint64_t term, int64_t now_ms) {
  return encode_command(
      {{"op", "leader_changed"}, {"node", node}, {"term", term}, {"now_ms", now_ms}});
}

Bytes app_record_event(std::string_view kind, std::string_view message, int64_t now_ms,
                       std::string_view node, std::string_view instance, uint64_t release) {
  return encode_command({{"op", "record_event"},
                         {"kind", kind},
                         {"message", message},
                         {"now_ms", now_ms},
                         {"node", node},
                         {"instance", instance},
                         {"release", release}});
}

// ---- explicit events ----

bool AppEvents::is_event_op(std::string_view op) const {
  return op == "node_failed" || op == "leader_changed" || op == "record_event";
}

int64_t AppEvents::time_of(const json& command) {
  if (auto it = command.find("now_ms"); it != command.end()) {
    if (auto t = json_int(*it, 1, INT64_MAX)) {
      last_ms_ = std::max(last_ms_, *t);
      return *t;
    }
  }
  return last_ms_;
}

void AppEvents::add(const AppState& app, Event e) {
  e.app = app.name();
  log_.append(std::move(e));
}

Bytes AppEvents::apply_op(const AppState& app, const json& command) {
  JsonFields c(command, text_of(command, "op"));
  const std::string op = c.str("op", 64);
  const std::string node = c.opt_str("node", 256).value_or("");
  const uint64_t term = op == "leader_changed" ? c.uint64("term") : 0;
  std::string how = op == "node_failed" ? c.opt_str("how", 16).value_or("failed") : "";
  if (!c.ok()) return error_result(ErrorCode::invalid, c.error());
  if (how != "" && how != "failed" && how != "left" && how != "gone") how = "failed";
  if (op == "record_event") {
    Event e{.kind = c.str("kind", 64), .node = node};
    e.instance = c.opt_str("instance", 256).value_or("");
    e.message = c.str("message", kMaxEventMessageBytes);
    e.release = c.has("release") ? c.uint64("release") : 0;
    if (c.ok() && !is_kind(e.kind)) c.fail(fmt::format("'{}' is not an event kind", e.kind));
    if (!c.ok()) return error_result(ErrorCode::invalid, c.error());
    e.time_ms = time_of(command);
    add(app, std::move(e));
    return ok_result({{"seq", log_.last_seq()}});
  }
  if (Status s = validate_node_name(node); !s.ok()) return error_result(s);
  const int64_t now = time_of(command);
  if (op == "leader_changed") {
    if (term <= leader_term_) return ok_result({{"recorded", false}});
    leader_term_ = term;
    add(app, {.time_ms = now,
              .kind = "leader_changed",
              .node = node,
              .message = fmt::format("{} leads the app's group (term {})", node, term),
              .data = {{"term", term}}});
    return ok_result({{"recorded", true}});
  }
  // node_failed: opens an episode if the node ran desired instances of the app.
  if (episodes_.contains(node)) return ok_result({{"episode", false}});
  FailoverEpisode ep{.node = node, .detected_ms = now};
  for (const auto& [id, inst] : app.instances()) {
    if (inst.node != node || !inst.desired || inst.state == "stopped") continue;
    ++ep.lost[inst.type];
    ep.unmoved.push_back(id);
  }
  if (ep.lost.empty()) return ok_result({{"episode", false}});
  if (episodes_.size() >= kMaxOpenEpisodes) {  // keep the state bounded: the oldest gives up
    auto oldest = std::min_element(episodes_.begin(), episodes_.end(), [](auto& a, auto& b) {
      return a.second.detected_ms < b.second.detected_ms;
    });
    add(app, {.time_ms = now,
              .kind = "failover_incomplete",
              .node = oldest->first,
              .message = "too many failovers at once: this one is no longer followed"});
    episodes_.erase(oldest);
  }
  add(app, {.time_ms = now,
            .kind = "node_failed",
            .node = node,
            .message = fmt::format("node {} {} with {} instance(s) of the app ({}); "
                                   "replacing them",
                                   node, how, ep.unmoved.size(), fmt::join(ep.unmoved, ", ")),
            .data = {{"detected_ms", now}, {"instances", ep.unmoved}}});
  episodes_.emplace(node, std::move(ep));
  check_episodes(app, now);
  return ok_result({{"episode", true}});
}

// ---- derived events ----

AppEvents::Before AppEvents::observe(const AppState& app, const json& command) const {
  Before b;
  b.op = text_of(command, "op");
  b.stopped = app.stopped();
  for (const auto& [type, f] : app.formation()) b.counts[type] = f.count;
  auto see = [&](const std::string& id) {
    if (const Instance* i = app.instance(id)) {
      b.instances[id] = {i->node,     i->state,    i->health, i->restarts,
                         i->reported_generation, i->desired};
    }
  };
  if (b.op == "report") {
    const json lines = command.value("instances", json::array());
    for (const auto& l : lines) {
      if (l.is_object() && l.contains("id") && l["id"].is_string()) see(l["id"]);
    }
  } else if (b.op == "unplace") {
    if (command.contains("id") && command["id"].is_string()) see(command["id"]);
  }
  return b;
}

void AppEvents::derive(const Before& before, const AppState& app, const json& command,
                       ByteView result_bytes) {
  const std::string& op = before.op;
  if (is_event_op(op)) return;  // apply_op recorded them
  const CommandResult result = decode_result(result_bytes);
  if (!result.ok()) return;  // changed nothing, not even the time seen
  const int64_t now = time_of(command);
  const json& r = result.body;
  auto release_event = [&](const std::string& kind, const std::string& what) {
    const uint64_t v = r.value("release", uint64_t{0});
    const Release* rel = app.release(v);
    if (rel == nullptr) return;
    std::string msg = fmt::format("v{} {}: {}", v, what, rel->description);
    if (!rel->commit.empty()) msg += " (commit " + rel->commit.substr(0, 12) + ")";
    add(app, {.time_ms = now, .kind = kind, .release = v, .message = msg + "; rolling out"});
  };
  if (op == "add_release") {
    release_event("deploy_started", "created");
  } else if (op == "set_config") {
    if (r.contains("release") && !r["release"].is_null()) {
      release_event("config_changed", "created");
    } else {
      add(app, {.time_ms = now,
                .kind = "config_changed",
                .message = "config stored; the first deploy takes it"});
    }
  } else if (op == "rollback") {
    release_event("rolled_back", fmt::format("= v{}", r.value("from", uint64_t{0})));
  } else if (op == "scale") {
    std::vector<std::string> changes;
    for (const auto& [type, f] : app.formation()) {
      auto was = before.counts.find(type);
      const int old = was == before.counts.end() ? 0 : was->second;
      if (old != f.count) changes.push_back(fmt::format("{} {} -> {}", type, old, f.count));
    }
    if (!changes.empty()) {
      add(app, {.time_ms = now,
                .kind = "scaled",
                .message = fmt::format("{}", fmt::join(changes, ", "))});
    }
  } else if (op == "set_limits") {
    add(app, {.time_ms = now,
              .kind = "limits_changed",
              .message = fmt::format("{}: {}", text_of(command, "type"),
                                     r.value("formation", json::object())
                                         .value(text_of(command, "type"), json::object())
                                         .dump())});
  } else if (op == "set_stopped") {
    if (before.stopped != app.stopped()) {
      add(app, {.time_ms = now,
                .kind = app.stopped() ? "app_stopped" : "app_started",
                .message = app.stopped() ? "every instance is being stopped"
                                         : "instances are being started again"});
    }
  } else if (op == "restart") {
    const json ids = r.value("restarted", json::array());
    if (!ids.empty()) {
      const std::string target = text_of(command, "target");
      add(app, {.time_ms = now,
                .kind = "restart_requested",
                .message = fmt::format("restart of {}: {} instance(s)",
                                       target.empty() ? "every instance" : target, ids.size())});
    }
  } else if (op == "place") {
    const std::string id = r.value("id", "");
    const Instance* inst = app.instance(id);
    if (inst != nullptr) {
      Event e{.time_ms = now, .kind = "placed", .node = inst->node, .instance = id,
              .release = inst->release};
      e.message = fmt::format("{} placed on {} (release v{})", id, inst->node, inst->release);
      // A placement of a type that a failed node ran replaces one of its instances.
      for (auto& [node, ep] : episodes_) {
        auto moved = std::find_if(ep.unmoved.begin(), ep.unmoved.end(), [&](const auto& old) {
          return old.substr(0, old.rfind('.')) == inst->type;
        });
        if (moved == ep.unmoved.end()) continue;
        e.kind = "moved";
        e.message = fmt::format("{} on failed node {} is replaced by {} on {}", *moved, node, id,
                                inst->node);
        e.data = {{"from_instance", *moved}, {"from_node", node}};
        ep.unmoved.erase(moved);
        break;
      }
      add(app, std::move(e));
    }
  } else if (op == "unplace") {
    const std::string id = text_of(command, "id");
    const Instance* inst = app.instance(id);
    if (inst != nullptr && before.instances.contains(id) && before.instances.at(id).desired) {
      std::string why = "scaled down or rebalanced";
      if (episodes_.contains(inst->node)) {
        why = "its node failed";
      } else if (inst->replace) {
        why = "its replacement is up (rebalancing or a rolling restart)";
      } else if (inst->release != app.current_version()) {
        why = fmt::format("replaced by release v{}", app.current_version());
      } else if (app.stopped()) {
        why = "the app is stopped";
      }
      add(app, {.time_ms = now, .kind = "unplaced", .node = inst->node, .instance = id,
                .release = inst->release, .message = fmt::format("stopping {}: {}", id, why)});
    }
  } else if (op == "replace_instance") {
    const std::string id = text_of(command, "id");
    if (const Instance* inst = app.instance(id)) {
      add(app, {.time_ms = now, .kind = "rebalancing", .node = inst->node, .instance = id,
                .release = inst->release,
                .message = fmt::format("{} on {} moves to a less loaded node", id, inst->node)});
    }
  } else if (op == "report") {
    derive_report(before, app, command, now);
  }
  check_deploy(app, now);
  check_episodes(app, now);
}

void AppEvents::derive_report(const Before& before, const AppState& app, const json& command,
                              int64_t now) {
  const std::string node = text_of(command, "node");
  for (const auto& [id, was] : before.instances) {
    const Instance* inst = app.instance(id);
    if (inst == nullptr || inst->node != node || was.node != node) continue;
    Event base{.time_ms = now, .node = node, .instance = id, .release = inst->release};
    if (std::string kind = state_event(was, *inst); !kind.empty()) {
      Event e = base;
      e.kind = kind;
      if (kind == "started") {
        e.message = fmt::format("{} is running (port {})", id, inst->port);
      } else if (kind == "restarted") {
        e.message = fmt::format("{} is running again (restart {})", id, inst->restarts);
      } else {
        e.message = fmt::format("{} is {}", id, inst->state);
      }
      if (!inst->message.empty()) e.message += ": " + inst->message;
      add(app, std::move(e));
    }
    if (inst->health != was.health && (inst->health == "healthy" || inst->health == "unhealthy")) {
      Event e = base;
      e.kind = inst->health;
      e.message = fmt::format("{} is {}", id, inst->health);
      if (!inst->health_output.empty()) e.message += ": " + inst->health_output;
      add(app, std::move(e));
    }
  }
}

void AppEvents::check_deploy(const AppState& app, int64_t now) {
  const uint64_t current = app.current_version();
  if (current == 0 || current <= deploy_done_ || app.stopped()) return;
  int up = 0;
  for (const auto& [type, f] : app.formation()) {
    int n = 0;
    for (const auto& [id, inst] : app.instances()) {
      if (inst.type == type && inst.desired && inst.release == current && is_up(inst)) ++n;
    }
    if (n < f.count) return;
    up += f.count;
  }
  deploy_done_ = current;
  add(app, {.time_ms = now,
            .kind = "deploy_finished",
            .release = current,
            .message = fmt::format("v{} is rolled out: {} instance(s) up", current, up)});
}

void AppEvents::check_episodes(const AppState& app, int64_t now) {
  // Counts of desired (and of up) instances per type, off every node that failed.
  std::map<std::string, int> desired, up;
  for (const auto& [id, inst] : app.instances()) {
    if (!inst.desired || episodes_.contains(inst.node)) continue;
    ++desired[inst.type];
    if (is_up(inst)) ++up[inst.type];
  }
  auto full = [&](const FailoverEpisode& ep, std::map<std::string, int>& have) {
    for (const auto& [type, lost] : ep.lost) {
      auto f = app.formation().find(type);
      const int need = app.stopped() || f == app.formation().end() ? 0 : f->second.count;
      if (have[type] < need) return false;
    }
    return true;
  };
  for (auto it = episodes_.begin(); it != episodes_.end();) {
    FailoverEpisode& ep = it->second;
    json data = {{"detected_ms", ep.detected_ms}};
    if (ep.placed_ms == 0 && full(ep, desired)) {
      ep.placed_ms = now;
      data["placed_ms"] = now;
      data["placed_after_ms"] = now - ep.detected_ms;
      add(app, {.time_ms = now,
                .kind = "replacements_placed",
                .node = ep.node,
                .message = fmt::format("replacements for node {} placed {} after it failed",
                                       ep.node, seconds(now - ep.detected_ms)),
                .data = data});
    }
    if (ep.placed_ms != 0 && full(ep, up)) {
      data["placed_ms"] = ep.placed_ms;
      data["placed_after_ms"] = ep.placed_ms - ep.detected_ms;
      data["up_ms"] = now;
      data["recovered_after_ms"] = now - ep.detected_ms;
      add(app, {.time_ms = now,
                .kind = "failover_recovered",
                .node = ep.node,
                .message = fmt::format("recovered from the failure of node {} in {} "
                                       "(replacements placed after {}, up after {})",
                                       ep.node, seconds(now - ep.detected_ms),
                                       seconds(ep.placed_ms - ep.detected_ms),
                                       seconds(now - ep.detected_ms)),
                .data = data});
      it = episodes_.erase(it);
      continue;
    }
    if (now - ep.detected_ms > kFailoverGiveUpMs) {
      add(app, {.time_ms = now,
                .kind = "failover_incomplete",
                .node = ep.node,
                .message = fmt::format("the app is still short of instances {} after node {} "
                                       "failed; no longer followed",
                                       seconds(now - ep.detected_ms), ep.node),
                .data = data});
      it = episodes_.erase(it);
      continue;
    }
    ++it;
  }
}

// ---- snapshot ----

json AppEvents::to_json() const {
  json episodes = json::array();
  for (const auto& [node, ep] : episodes_) {
    episodes.push_back({{"node", node},
                        {"detected_ms", ep.detected_ms},
                        {"placed_ms", ep.placed_ms},
                        {"lost", ep.lost},
                        {"unmoved", ep.unmoved}});
  }
  return {{"log", log_.to_json()},
          {"episodes", std::move(episodes)},
          {"deploy_done", deploy_done_},
          {"leader_term", leader_term_},
          {"last_ms", last_ms_}};
}

Result<AppEvents> AppEvents::from_json(const json& j) {
  JsonFields f(j, "app events");
  AppEvents out;
  const json& log = f.object("log");
  const json& episodes = f.array("episodes");
  out.deploy_done_ = f.uint64("deploy_done");
  out.leader_term_ = f.uint64("leader_term");
  out.last_ms_ = f.int64("last_ms");
  if (!f.ok()) return Status::invalid_argument(f.error());
  auto l = EventLog::from_json(log);
  if (!l.ok()) return l.status();
  out.log_ = std::move(*l);
  for (const auto& e : episodes) {
    JsonFields ef(e, "failover episode");
    FailoverEpisode ep;
    ep.node = ef.str("node", 256);
    ep.detected_ms = ef.int64("detected_ms");
    ep.placed_ms = ef.int64("placed_ms");
    ep.unmoved = ef.strings("unmoved", kMaxInstances);
    for (const auto& [type, n] : ef.object("lost").items()) {
      auto count = json_int(n, 1, kMaxInstances);
      if (!count) ef.fail("'lost' counts must be positive integers");
      ep.lost[type] = static_cast<int>(count.value_or(0));
    }
    if (!ef.ok()) return Status::invalid_argument(ef.error());
    out.episodes_.emplace(ep.node, std::move(ep));
  }
  return out;
}

}  // namespace shoal::node::apps
