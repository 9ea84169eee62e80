#include "node/supervisor/supervisor_core.h"

#include <algorithm>
#include <cassert>

namespace shoal::node::supervisor {
namespace {

using nlohmann::json;

bool same_release(const InstanceSpec& a, const InstanceSpec& b) {
  return a.release == b.release && a.digest == b.digest;
}

// Whether the live process must be replaced to run `want`: a change of what the process
// is (release, command, env, limits, generation). The health check, the stop grace and the
// peers a release is fetched from are not: the peer list changes whenever a node fails or
// joins, and restarting every instance of the app for it would turn one node's failure
// into an outage of all.
bool needs_restart(const InstanceSpec& running, const InstanceSpec& want) {
  InstanceSpec a = running;
  a.health = want.health;
  a.artifact_peers = want.artifact_peers;
  a.stop_grace_ms = want.stop_grace_ms;
  return a != want;
}

}  // namespace

Duration backoff_delay(const CorePolicy& policy, int failures) {
  if (failures <= 1) return Duration::zero();
  Duration d = policy.backoff_base;
  for (int i = 2; i < failures && d < policy.backoff_max; ++i) d *= 2;
  return std::min(d, policy.backoff_max);
}

void CoreActions::merge(CoreActions&& o) {
  auto append = [](auto& into, auto& from) {
    into.insert(into.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
  };
  append(prepare, o.prepare);
  append(start, o.start);
  append(stop, o.stop);
  append(kill, o.kill);
  append(remove, o.remove);
  append(changed, o.changed);
  append(probe, o.probe);
  persist.insert(o.persist.begin(), o.persist.end());
  wake_at = std::min(wake_at, o.wake_at);
}

json to_json(const InstanceRecord& r) {
  json j{{"app", r.app},
         {"spec", to_json(r.spec)},
         {"state", std::string(state_name(r.state))},
         {"assigned", r.assigned},
         {"restarts", r.restarts},
         {"failures", r.failures},
         {"pid", r.pid},
         {"port", r.port},
         {"since_ms", r.since_ms},
         {"message", r.message},
         {"prepared", r.prepared},
         {"release_dir", r.release_dir},
         {"prepared_release", r.prepared_release},
         {"prepared_digest", r.prepared_digest},
         {"shim_pid", r.shim_pid},
         {"shim_start_time", r.shim_start_time},
         {"cgroup_dirs", r.cgroup_dirs},
         {"health_stop", r.health_stop}};
  j["running"] = r.running ? to_json(*r.running) : json(nullptr);
  return j;
}

Result<InstanceRecord> instance_record_from_json(const json& j) {
  if (!j.is_object()) return Status::corruption("instance record is not an object");
  try {
    InstanceRecord r;
    r.app = j.at("app").get<std::string>();
    auto spec = instance_spec_from_json(j.at("spec"));
    if (!spec) return Status::corruption("instance record: " + spec.status().message());
    r.spec = std::move(*spec);
    if (!j.at("running").is_null()) {
      auto running = instance_spec_from_json(j.at("running"));
      if (!running) return Status::corruption("instance record: " + running.status().message());
      r.running = std::move(*running);
    }
    auto state = parse_state(j.at("state").get<std::string>());
    if (!state) return Status::corruption("instance record: " + state.status().message());
    r.state = *state;
    r.assigned = j.at("assigned").get<bool>();
    r.restarts = j.at("restarts").get<int>();
    r.failures = j.at("failures").get<int>();
    r.pid = j.at("pid").get<int>();
    r.port = j.at("port").get<int>();
    r.since_ms = j.at("since_ms").get<int64_t>();
    r.message = j.at("message").get<std::string>();
    r.prepared = j.at("prepared").get<bool>();
    r.release_dir = j.at("release_dir").get<std::string>();
    r.prepared_release = j.at("prepared_release").get<int64_t>();
    r.prepared_digest = j.at("prepared_digest").get<std::string>();
    r.shim_pid = j.at("shim_pid").get<int>();
    r.shim_start_time = j.at("shim_start_time").get<uint64_t>();
    r.cgroup_dirs = j.at("cgroup_dirs").get<std::vector<std::string>>();
    r.health_stop = j.value("health_stop", false);  // absent in older records
    return r;
  } catch (const json::exception& e) {
    return Status::corruption(std::string("instance record: ") + e.what());
  }
}

void SupervisorCore::set_state(InstanceRecord& r, InstanceState s, int64_t wall_ms,
                               CoreActions& out, std::string message) {
  if (r.state == s && r.message == message) return;
  r.state = s;
  r.message = std::move(message);
  r.since_ms = wall_ms;
  out.changed.emplace_back(r.app, r.spec.id);
  out.persist.insert(r.app);
}

Duration SupervisorCore::stop_grace(const InstanceRecord& r) const {
  // The process's own spec says how it wants to be stopped; the wanted spec when none runs.
  const InstanceSpec& spec = r.running ? *r.running : r.spec;
  if (spec.stop_grace_ms > 0) return std::chrono::milliseconds(spec.stop_grace_ms);
  return policy_.stop_grace;
}

void SupervisorCore::begin_stop(InstanceRecord& r, TimePoint now, int64_t wall_ms,
                                CoreActions& out) {
  if (r.state == InstanceState::stopping) return;
  set_state(r, InstanceState::stopping, wall_ms, out);
  r.kill_at = now + stop_grace(r);
  r.killed = false;
  out.stop.emplace_back(r.app, r.spec.id);
}

// Level-triggered: moves one instance toward what is wanted of it.
void SupervisorCore::reconcile(InstanceRecord& r, TimePoint now, int64_t wall_ms,
                               CoreActions& out) {
  const InstanceKey key{r.app, r.spec.id};
  if (r.alive()) {
    if (r.state == InstanceState::stopping) {
      if (!r.killed && now >= r.kill_at) {
        r.killed = true;
        out.kill.push_back(key);
      }
      return;
    }
    if (!r.assigned) {
      begin_stop(r, now, wall_ms, out);
      return;
    }
    if (!needs_restart(*r.running, r.spec)) {
      if (r.running->health != r.spec.health) {
        r.running->health = r.spec.health;  // a new check for the same process
        r.health.on_start(r.spec.health, now);
        out.changed.push_back(key);
      }
      r.running->artifact_peers = r.spec.artifact_peers;
      r.running->stop_grace_ms = r.spec.stop_grace_ms;
    }
    if (needs_restart(*r.running, r.spec)) {
      const bool ready = r.prepared && r.prepared_release == r.spec.release &&
                         r.prepared_digest == r.spec.digest;
      if (!ready) {
        // Keep the old release serving until the new one is on disk.
        if (!r.preparing && now >= r.restart_at) {
          r.preparing = true;
          out.prepare.push_back(key);
        }
        return;
      }
      begin_stop(r, now, wall_ms, out);
      return;
    }
    if (r.state == InstanceState::running && r.health.due(now)) {
      out.probe.emplace_back(key, r.health.begin());
    }
    return;
  }

  // No process.
  if (!r.assigned) return;  // the caller removes it
  // Restored after an agent restart and not re-asserted yet: its leader may have replaced
  // it elsewhere while this node was down, so starting it again could run it twice. It
  // starts once an assignment lists it again, and goes when none does within the grace.
  if (unconfirmed_.count(r.app)) return;
  if (!r.prepared) {
    if (!r.preparing && now >= r.restart_at) {
      r.preparing = true;
      if (r.state != InstanceState::failed) set_state(r, InstanceState::pending, wall_ms, out);
      out.prepare.push_back(key);
    }
    return;
  }
  if (now < r.restart_at) return;  // backing off
  r.running = r.spec;
  r.started_at = now;
  r.kill_at = kTimeNever;
  r.killed = false;
  r.pid = 0;
  r.health_stop = false;
  r.health.on_start(r.spec.health, now);
  set_state(r, InstanceState::starting, wall_ms, out, r.message);
  out.start.push_back(key);
  out.persist.insert(r.app);
}

Result<CoreActions> SupervisorCore::assign(const Assignment& a, TimePoint now, int64_t wall_ms) {
  if (auto it = terms_.find(a.group); it != terms_.end() && a.term < it->second) {
    return Status::failed_precondition("stale term " + std::to_string(a.term) + " for group " +
                                       std::to_string(a.group) + ": term " +
                                       std::to_string(it->second) + " was seen");
  }
  CoreActions out;
  uint64_t& term = terms_[a.group];
  term = std::max(term, a.term);
  assignments_[a.app] = a;
  unconfirmed_.erase(a.app);
  out.persist.insert(a.app);

  std::set<std::string> listed;
  for (const auto& spec : a.instances) {
    listed.insert(spec.id);
    const InstanceKey key{a.app, spec.id};
    auto it = records_.find(key);
    if (it == records_.end()) {
      InstanceRecord r;
      r.app = a.app;
      r.spec = spec;
      r.since_ms = wall_ms;
      r.restart_at = now;
      it = records_.emplace(key, std::move(r)).first;
      out.changed.push_back(key);
    } else {
      InstanceRecord& r = it->second;
      r.assigned = true;
      if (r.spec != spec) {
        if (spec.generation != r.spec.generation) {
          r.failures = 0;  // an explicit restart starts the crash count afresh
          r.health.forget();
          r.restart_at = now;
        }
        if (!same_release(spec, r.spec)) {
          r.prepared = r.prepared && r.prepared_release == spec.release &&
                       r.prepared_digest == spec.digest;
          r.preparing = false;  // a result for the old release is ignored
          if (!r.alive()) r.restart_at = now;
        }
        r.spec = spec;
      }
    }
    reconcile(it->second, now, wall_ms, out);
  }
  for (auto it = records_.begin(); it != records_.end();) {
    InstanceRecord& r = it->second;
    if (r.app != a.app || listed.count(r.spec.id)) {
      ++it;
      continue;
    }
    r.assigned = false;
    if (r.alive()) {
      reconcile(r, now, wall_ms, out);
      ++it;
    } else {
      r.state = InstanceState::stopped;
      out.changed.emplace_back(r.app, r.spec.id);
      out.remove.push_back(std::move(r));
      it = records_.erase(it);
    }
  }
  out.wake_at = next_wake(now);
  return out;
}

CoreActions SupervisorCore::prepared(const InstanceKey& key, int64_t release,
                                     const std::string& digest,
                                     const Result<std::string>& release_dir, TimePoint now,
                                     int64_t wall_ms) {
  CoreActions out;
  InstanceRecord* r = find(key);
  if (r == nullptr || r->spec.release != release || r->spec.digest != digest) {
    out.wake_at = next_wake(now);
    return out;  // stale: the instance is gone or wants another release now
  }
  r->preparing = false;
  if (release_dir.ok()) {
    r->prepared = true;
    r->release_dir = *release_dir;
    r->prepared_release = release;
    r->prepared_digest = digest;
    out.persist.insert(r->app);
  } else if (!r->alive()) {
    ++r->failures;
    r->restart_at = now + std::max(backoff_delay(policy_, r->failures), policy_.backoff_base);
    set_state(*r, InstanceState::failed, wall_ms, out,
              "cannot prepare release " + std::to_string(release) + ": " +
                  release_dir.status().message());
  } else {
    // The old release keeps running; try the new one again after a pause.
    r->restart_at = now + policy_.backoff_max / 4;
    r->message = "cannot prepare release " + std::to_string(release) + ": " +
                 release_dir.status().message();
    out.changed.push_back(key);
  }
  reconcile(*r, now, wall_ms, out);
  out.wake_at = next_wake(now);
  return out;
}

CoreActions SupervisorCore::started(const InstanceKey& key, int pid, TimePoint now,
                                    int64_t wall_ms) {
  CoreActions out;
  InstanceRecord* r = find(key);
  if (r != nullptr && r->alive()) {
    r->pid = pid;
    out.persist.insert(r->app);
    if (r->state == InstanceState::starting) {
      // Still unhealthy from the last run: the message keeps saying why until it passes.
      set_state(*r, InstanceState::running, wall_ms, out,
                r->health.state() == Health::unhealthy ? r->message : std::string());
    }
  }
  out.wake_at = next_wake(now);
  return out;
}

CoreActions SupervisorCore::exited(const InstanceKey& key, const std::string& why, TimePoint now,
                                   int64_t wall_ms) {
  CoreActions out;
  auto it = records_.find(key);
  if (it == records_.end() || !it->second.alive()) {
    out.wake_at = next_wake(now);
    return out;
  }
  InstanceRecord& r = it->second;
  const bool asked = r.state == InstanceState::stopping && !r.health_stop;
  const std::string reason = r.health_stop ? r.message : why;
  r.health_stop = false;
  r.health.on_stop();
  r.running.reset();
  r.pid = 0;
  r.shim_pid = 0;
  r.shim_start_time = 0;
  r.kill_at = kTimeNever;
  out.persist.insert(r.app);
  if (!r.assigned) {
    r.state = InstanceState::stopped;
    out.changed.push_back(key);
    out.remove.push_back(std::move(r));
    records_.erase(it);
    out.wake_at = next_wake(now);
    return out;
  }
  if (asked) {
    set_state(r, InstanceState::stopped, wall_ms, out);
    r.restart_at = now;  // stopped to be replaced: start the new spec at once
  } else {
    ++r.restarts;
    if (now - r.started_at >= policy_.backoff_reset_after) r.failures = 0;
    ++r.failures;
    r.restart_at = now + backoff_delay(policy_, r.failures);
    const bool loop = r.failures >= policy_.crash_loop_after;
    set_state(r, loop ? InstanceState::crashed : InstanceState::backoff, wall_ms, out,
              reason + (loop ? " (" + std::to_string(r.failures) + " failures in a row)" : ""));
  }
  reconcile(r, now, wall_ms, out);
  out.wake_at = next_wake(now);
  return out;
}

CoreActions SupervisorCore::health_result(const InstanceKey& key, uint64_t token, bool pass,
                                          std::string output, TimePoint now, int64_t wall_ms) {
  CoreActions out;
  InstanceRecord* r = find(key);
  if (r != nullptr && r->alive()) {
    const HealthVerdict v = r->health.result(token, pass, std::move(output), now);
    if (v.changed) out.changed.push_back(key);
    if (v.changed && r->health.state() == Health::healthy &&
        r->message.rfind(kHealthFailedPrefix, 0) == 0) {
      r->message.clear();  // it passes again
      out.persist.insert(r->app);
    }
    if (v.restart && r->state != InstanceState::stopping) {
      begin_stop(*r, now, wall_ms, out);
      r->health_stop = true;
      r->message = v.reason;
    }
    reconcile(*r, now, wall_ms, out);
  }
  out.wake_at = next_wake(now);
  return out;
}

CoreActions SupervisorCore::tick(TimePoint now, int64_t wall_ms) {
  CoreActions out;
  if (now >= reassert_deadline_) {
    for (const auto& app : unconfirmed_) {
      for (auto& [key, r] : records_) {
        if (r.app == app) r.assigned = false;
      }
      assignments_.erase(app);
      out.persist.insert(app);
    }
    unconfirmed_.clear();
    reassert_deadline_ = kTimeNever;
  }
  for (auto it = records_.begin(); it != records_.end();) {
    InstanceRecord& r = it->second;
    if (!r.assigned && !r.alive()) {
      r.state = InstanceState::stopped;
      out.changed.push_back(it->first);
      out.persist.insert(r.app);
      out.remove.push_back(std::move(r));
      it = records_.erase(it);
      continue;
    }
    reconcile(r, now, wall_ms, out);
    ++it;
  }
  out.wake_at = next_wake(now);
  return out;
}

CoreActions SupervisorCore::drop_app(const std::string& app, TimePoint now, int64_t wall_ms) {
  for (auto& [key, r] : records_) {
    if (r.app == app) r.assigned = false;
  }
  assignments_.erase(app);
  unconfirmed_.erase(app);
  CoreActions out = tick(now, wall_ms);
  out.persist.insert(app);
  return out;
}

CoreActions SupervisorCore::restore(std::vector<InstanceRecord> records,
                                    std::map<uint64_t, uint64_t> terms,
                                    std::map<std::string, Assignment> assignments, TimePoint now,
                                    int64_t wall_ms) {
  terms_ = std::move(terms);
  assignments_ = std::move(assignments);
  for (auto& r : records) {
    r.restart_at = now;
    r.started_at = now;
    r.preparing = false;
    if (r.state == InstanceState::stopping && r.alive()) {
      r.kill_at = now + stop_grace(r);  // the stop was asked before the restart
    }
    if (r.alive() && r.running) r.health.on_start(r.running->health, now);
    if (r.assigned) unconfirmed_.insert(r.app);
    InstanceKey key{r.app, r.spec.id};
    records_[key] = std::move(r);
  }
  reassert_deadline_ = unconfirmed_.empty() ? kTimeNever : now + policy_.reassert_grace;
  return tick(now, wall_ms);
}

InstanceRecord* SupervisorCore::find(const InstanceKey& key) {
  auto it = records_.find(key);
  return it == records_.end() ? nullptr : &it->second;
}

std::vector<InstanceStatus> SupervisorCore::report(const std::string& app) const {
  std::vector<InstanceStatus> out;
  for (const auto* r : records(app)) {
    InstanceStatus s;
    s.id = r->spec.id;
    s.type = r->spec.type;
    s.state = r->state;
    s.pid = r->pid;
    s.port = r->port;
    s.restarts = r->restarts;
    s.generation = r->running ? r->running->generation : r->spec.generation;
    s.since_ms = r->since_ms;
    s.message = r->message;
    const auto& check = r->running ? r->running->health : r->spec.health;
    const Health h = r->health.state() == Health::none && check ? Health::starting
                     : !check                                   ? Health::none
                                                                : r->health.state();
    s.health = std::string(health_name(h));
    s.health_output = r->health.output();
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<const InstanceRecord*> SupervisorCore::records(const std::string& app) const {
  std::vector<const InstanceRecord*> out;
  for (auto it = records_.lower_bound({app, ""}); it != records_.end() && it->first.first == app;
       ++it) {
    out.push_back(&it->second);
  }
  return out;
}

std::vector<std::string> SupervisorCore::apps() const {
  std::set<std::string> names;
  for (const auto& [key, r] : records_) names.insert(key.first);
  for (const auto& [app, a] : assignments_) names.insert(app);
  return {names.begin(), names.end()};
}

std::map<std::string, std::set<std::string>> SupervisorCore::digests_in_use() const {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [app, a] : assignments_) {
    auto& set = out[app];
    for (const auto& spec : a.instances) {
      if (!spec.digest.empty()) set.insert(spec.digest);
    }
  }
  for (const auto& [key, r] : records_) {
    auto& set = out[key.first];
    if (!r.spec.digest.empty()) set.insert(r.spec.digest);
    if (r.running && !r.running->digest.empty()) set.insert(r.running->digest);
    if (!r.prepared_digest.empty()) set.insert(r.prepared_digest);
  }
  return out;
}

const Assignment* SupervisorCore::assignment(const std::string& app) const {
  auto it = assignments_.find(app);
  return it == assignments_.end() ? nullptr : &it->second;
}

TimePoint SupervisorCore::next_wake(TimePoint now) const {
  TimePoint wake = reassert_deadline_;
  for (const auto& [key, r] : records_) {
    if (r.alive()) {
      if (r.state == InstanceState::stopping && !r.killed) wake = std::min(wake, r.kill_at);
      if (r.running != r.spec && !r.preparing && r.restart_at > now) {
        wake = std::min(wake, r.restart_at);
      }
      if (r.state == InstanceState::running) wake = std::min(wake, r.health.next_probe());
    } else if (r.assigned && !r.preparing && r.restart_at > now) {
      wake = std::min(wake, r.restart_at);
    }
  }
  return wake;
}

void SupervisorCore::check_invariants() const {
  for (const auto& [key, r] : records_) {
    assert(key.first == r.app && key.second == r.spec.id);
    const bool live_state = r.state == InstanceState::starting ||
                            r.state == InstanceState::running ||
                            r.state == InstanceState::stopping;
    // A live process is starting, running or stopping; and only then.
    assert(r.alive() == live_state);
    assert(r.alive() || r.pid == 0);
    assert(r.failures >= 0 && r.restarts >= 0);
    (void)live_state;
  }
}

}  // namespace shoal::node::supervisor
