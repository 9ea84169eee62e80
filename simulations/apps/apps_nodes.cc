// Each node's supervisor: the real SupervisorCore, its assignments from the network, and
// simulated processes in place of shims (prepare, start, exit, stop and kill take the
// scenario's delays; a release listed in apps.crashing exits `crash_after` after each start).
#include <fmt/format.h>

#include <stdexcept>

#include "node/apps/instance_spec.h"
#include "simulations/apps/apps_cluster.h"

namespace shoal::sim {

namespace sup = node::supervisor;

void AppsCluster::start_supervisor(size_t i) {
  Node& n = nodes_[i];
  sup::CorePolicy policy;
  policy.stop_grace = p_.stop_grace;
  policy.backoff_base = p_.backoff_base;
  policy.backoff_max = p_.backoff_max;
  policy.reassert_grace = p_.reassert_grace;
  n.sup = std::make_unique<sup::SupervisorCore>(policy);
  if (n.saved.records.empty() && n.saved.assignments.empty() && n.saved.terms.empty()) return;
  // An agent restart: the records as persisted, every process found dead (the machine went
  // down with them).
  std::vector<sup::InstanceRecord> records;
  for (const auto& [app, list] : n.saved.records) {
    for (sup::InstanceRecord r : list) {
      r.running.reset();
      r.pid = 0;
      r.shim_pid = 0;
      records.push_back(std::move(r));
    }
  }
  sup_handle(i, n.sup->restore(std::move(records), p_.forget_terms ? std::map<uint64_t, uint64_t>{} : n.saved.terms,
                               n.saved.assignments, now_, wall_ms()));
}

void AppsCluster::on_assign(size_t i, size_t from, const AssignMsg& m) {
  Node& n = nodes_[i];
  if (!n.sup) return;
  const sup::Assignment& a = m.assignment;
  ReportMsg reply;
  reply.term = a.term;
  reply.listed = a.instances.size();
  auto r = n.sup->assign(a, now_, wall_ms());
  if (!r.ok()) {
    ++fenced_;
    reply.fenced = true;
  } else {
    // Fencing, judged against every term this node ever accepted (across its restarts): an
    // accepted assignment must not come from an older term.
    if (a.term < n.max_term) {
      return fail("fencing", fmt::format("{} accepted an assignment of term {} from {} after term {}",
                                         n.id, a.term, a.leader, n.max_term));
    }
    n.max_term = std::max(n.max_term, a.term);
    sup_handle(i, std::move(*r));
    if (stopped_ || !n.sup) return;
    for (const sup::InstanceStatus& s : n.sup->report(a.app)) {
      reply.lines.push_back(node::apps::report_line(s));
    }
  }
  const size_t bytes = 100 + 200 * reply.lines.size();
  send(i, from, std::move(reply), bytes);
}

void AppsCluster::sup_handle(size_t i, sup::CoreActions a) {
  Node& n = nodes_[i];
  try {
    n.sup->check_invariants();
  } catch (const std::logic_error& e) {
    return fail("supervisor invariants", n.id + ": " + e.what());
  }
  auto proc_event = [&](const sup::InstanceKey& key, ProcEvent what, Duration after, uint64_t inc) {
    Ev e;
    e.at = now_ + after;
    e.kind = Kind::proc;
    e.node = uint32_t(i);
    e.gen = n.gen;
    e.id = inc;
    e.what = what;
    e.key = key;
    return e;
  };
  for (const auto& key : a.prepare) {
    const sup::InstanceRecord* r = n.sup->find(key);
    if (r == nullptr) continue;
    Ev e = proc_event(key, ProcEvent::prepared, p_.prepare, 0);
    e.release = r->spec.release;
    e.digest = r->spec.digest;
    push(std::move(e));
  }
  for (const auto& key : a.start) {
    const sup::InstanceRecord* r = n.sup->find(key);
    if (r == nullptr) continue;
    if (n.procs.count(key)) {
      return fail("one process per instance",
                  fmt::format("{} started {} while its process still runs", n.id, key.second));
    }
    const uint64_t inc = next_inc_++;
    n.procs[key] = Proc{inc, r->spec.release, false, false};
    ++proc_starts_;
    push(proc_event(key, ProcEvent::started, p_.start, inc));
    if (crashing_digests_.count(r->spec.digest)) {
      Ev e = proc_event(key, ProcEvent::exited, p_.start + p_.crash_after, inc);
      e.why = "exit status 1";
      push(std::move(e));
    }
  }
  for (const auto& key : a.stop) {
    auto it = n.procs.find(key);
    if (it == n.procs.end()) continue;
    it->second.stopping = true;
    ++proc_stops_;
    Ev e = proc_event(key, ProcEvent::exited, p_.stop, it->second.inc);
    e.why = "signal 15";
    push(std::move(e));
  }
  for (const auto& key : a.kill) {
    auto it = n.procs.find(key);
    if (it == n.procs.end()) continue;
    ++proc_kills_;
    Ev e = proc_event(key, ProcEvent::exited, std::chrono::milliseconds(1), it->second.inc);
    e.why = "signal 9";
    push(std::move(e));
  }
  for (const auto& app : a.persist) {
    std::vector<sup::InstanceRecord> records;
    for (const sup::InstanceRecord* r : n.sup->records(app)) records.push_back(*r);
    if (records.empty()) {
      n.saved.records.erase(app);
    } else {
      n.saved.records[app] = std::move(records);
    }
    if (const sup::Assignment* as = n.sup->assignment(app)) {
      n.saved.assignments[app] = *as;
    } else {
      n.saved.assignments.erase(app);
    }
    n.saved.terms = n.sup->terms();
  }
  // No health checks in these manifests; answer any probe as passed.
  for (const auto& [key, token] : a.probe) {
    sup_handle(i, n.sup->health_result(key, token, true, "", now_, wall_ms()));
    if (stopped_) return;
  }
  if (a.wake_at < n.sup_wake_at) {
    n.sup_wake_at = std::max(a.wake_at, now_ + std::chrono::microseconds(1));
    Ev e;
    e.at = n.sup_wake_at;
    e.kind = Kind::sup_wake;
    e.node = uint32_t(i);
    e.gen = n.gen;
    push(std::move(e));
  }
}

void AppsCluster::on_proc(Ev& e) {
  Node& n = nodes_[e.node];
  if (!n.up || e.gen != n.gen || !n.sup) return;
  switch (e.what) {
    case ProcEvent::prepared:
      sup_handle(e.node, n.sup->prepared(e.key, e.release, e.digest,
                                         Result<std::string>("/var/lib/shoal/releases/" + e.digest),
                                         now_, wall_ms()));
      return;
    case ProcEvent::started: {
      auto it = n.procs.find(e.key);
      if (it == n.procs.end() || it->second.inc != e.id) return;
      it->second.started = true;
      sup_handle(e.node, n.sup->started(e.key, int(e.id), now_, wall_ms()));
      return;
    }
    case ProcEvent::exited: {
      auto it = n.procs.find(e.key);
      if (it == n.procs.end() || it->second.inc != e.id) return;
      n.procs.erase(it);
      if (e.why == "exit status 1") ++proc_crashes_;
      sup_handle(e.node, n.sup->exited(e.key, e.why, now_, wall_ms()));
      return;
    }
  }
}

}  // namespace shoal::sim
