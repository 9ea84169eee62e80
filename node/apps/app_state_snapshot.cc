// AppState's snapshot and restore: msgpack of the whole state, checked field by field.
#include <fmt/format.h>

#include "node/apps/app_state.h"
#include "node/apps/json_fields.h"

namespace shoal::node::apps {
namespace {

using json = nlohmann::json;

constexpr int kSnapshotVersion = 1;

json release_json(const Release& r) {
  return {{"version", r.version},       {"digest", r.digest}, {"source_digest", r.source_digest},
          {"manifest", r.manifest},     {"config", r.config}, {"description", r.description},
          {"created_ms", r.created_ms}, {"commit", r.commit}};
}

json instance_json(const Instance& i) {
  return {{"type", i.type},
          {"node", i.node},
          {"release", i.release},
          {"generation", i.generation},
          {"reported_generation", i.reported_generation},
          {"state", i.state},
          {"pid", i.pid},
          {"port", i.port},
          {"restarts", i.restarts},
          {"since_ms", i.since_ms},
          {"message", i.message},
          {"health", i.health},
          {"health_output", i.health_output},
          {"desired", i.desired},
          {"replace", i.replace}};
}

}  // namespace

Bytes AppState::snapshot() const {
  json releases = json::array();
  for (const auto& [v, r] : releases_) releases.push_back(release_json(r));
  json instances = json::object();
  for (const auto& [id, i] : instances_) instances[id] = instance_json(i);
  return json::to_msgpack({{"version", kSnapshotVersion},
                           {"name", name_},
                           {"releases", releases},
                           {"current", current_},
                           {"next_version", next_version_},
                           {"config", config_},
                           {"formation", formation_json()},
                           {"stopped", stopped_},
                           {"instances", instances},
                           {"next_instance_seq", next_instance_seq_},
                           {"events", events_.to_json()}});
}

Status AppState::restore(ByteView data) {
  if (data.empty()) {
    *this = AppState();
    return Status();
  }
  json j = json::from_msgpack(data.begin(), data.end(), true, false);
  if (j.is_discarded()) return Status::corruption("app snapshot is not valid msgpack");
  JsonFields f(j, "app snapshot");
  if (f.int64("version") != kSnapshotVersion && f.ok()) {
    f.fail(fmt::format("version {} is not {}", j["version"].dump(), kSnapshotVersion));
  }
  AppState next;
  next.name_ = f.str("name", 256);
  next.current_ = f.uint64("current");
  next.next_version_ = f.uint64("next_version");
  next.config_ = f.string_map("config");
  next.stopped_ = f.boolean("stopped");
  next.next_instance_seq_ = f.uint64("next_instance_seq");
  for (const auto& r : f.array("releases")) {
    JsonFields rf(r, "app snapshot release");
    Release rel;
    rel.version = rf.uint64("version");
    rel.digest = rf.str("digest");
    rel.source_digest = rf.str("source_digest");
    rel.manifest = rf.object("manifest");
    rel.config = rf.string_map("config");
    rel.description = rf.str("description");
    rel.created_ms = rf.int64("created_ms");
    rel.commit = rf.str("commit");
    if (rf.ok() && (rel.version == 0 || rel.version >= next.next_version_ ||
                    next.releases_.contains(rel.version))) {
      rf.fail(fmt::format("version {} is 0, repeated or not below next_version", rel.version));
    }
    if (rf.ok()) {
      if (auto m = manifest_from_json(rel.manifest); !m.ok()) rf.fail(m.status().message());
    }
    if (!rf.ok()) return Status::corruption(rf.error());
    next.releases_.emplace(rel.version, std::move(rel));
  }
  for (const auto& [type, fe] : f.object("formation").items()) {
    JsonFields ff(fe, "app snapshot formation." + type);
    FormationEntry e{static_cast<int>(ff.int64("count", 0, kMaxInstancesPerType)),
                     ff.int64("memory_mb"), ff.int64("cpu_millis")};
    if (!ff.ok()) return Status::corruption(ff.error());
    next.formation_.emplace(type, e);
  }
  for (const auto& [id, ie] : f.object("instances").items()) {
    JsonFields inf(ie, "app snapshot instance '" + id + "'");
    Instance i;
    i.id = id;
    i.type = inf.str("type");
    i.node = inf.str("node");
    i.release = inf.uint64("release");
    i.generation = inf.uint64("generation");
    i.reported_generation = inf.uint64("reported_generation");
    i.state = inf.str("state");
    i.pid = inf.int64("pid");
    i.port = inf.int64("port");
    i.restarts = inf.int64("restarts");
    i.since_ms = inf.int64("since_ms");
    i.message = inf.str("message");
    i.health = inf.opt_str("health").value_or("none");  // absent in older snapshots
    i.health_output = inf.opt_str("health_output").value_or("");
    i.desired = inf.boolean("desired");
    i.replace = inf.opt_boolean("replace").value_or(false);  // absent in older snapshots
    if (!inf.ok()) return Status::corruption(inf.error());
    next.instances_.emplace(id, std::move(i));
  }
  if (!f.ok()) return Status::corruption(f.error());
  if (const json* events = f.opt("events")) {
    auto e = AppEvents::from_json(*events);
    if (!e.ok()) return Status::corruption("app snapshot: " + e.status().message());
    next.events_ = std::move(*e);
  } else {
    next.events_.assume_deployed(next.current_);  // an older snapshot: no events yet
  }
  if (next.current_ != 0) {
    const Release* cur = next.release(next.current_);
    if (cur == nullptr) {
      return Status::corruption(
          fmt::format("app snapshot: current release v{} is not in it", next.current_));
    }
    next.current_manifest_ = *manifest_from_json(cur->manifest);  // checked above
  }
  *this = std::move(next);
  return Status();
}

}  // namespace shoal::node::apps
