#include "cli/apps_render.h"

#include "cli/human_units.h"
#include "node/text_table.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

const json& list_of(const json& answer, const char* key) {
  static const json kEmpty = json::array();
  auto it = answer.find(key);
  return it != answer.end() && it->is_array() ? *it : kEmpty;
}

std::string version_text(const json& object, const char* key) {
  const std::string v = json_text(object, key);
  return v.empty() || v == "0" ? "-" : "v" + v;
}

}  // namespace

std::string json_text(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string render_apps_table(const json& answer) {
  std::vector<node::TableRow> rows;
  for (const auto& app : list_of(answer, "apps")) {
    const json instances = app.is_object() ? app.value("instances", json::object()) : json::object();
    rows.push_back({json_text(app, "name"), version_text(app, "release"),
                    json_text(instances, "running") + "/" + json_text(instances, "total")});
  }
  return node::render_table({"Name", "Release", "Instances"}, rows);
}

std::string render_formation_table(const json& formation) {
  std::vector<node::TableRow> rows;
  if (formation.is_object()) {
    for (const auto& [type, f] : formation.items()) {
      if (!f.is_object()) {  // {"web": 3}
        rows.push_back({type, f.dump(), "", ""});
        continue;
      }
      const std::string mem = json_text(f, "memory_mb");
      const std::string cpu = json_text(f, "cpu_millis");
      rows.push_back({type, json_text(f, "count"), mem.empty() || mem == "0" ? "-" : mem + " MB",
                      cpu.empty() || cpu == "0" ? "-" : cpu + "m"});
    }
  }
  return node::render_table({"Type", "Count", "Memory", "CPU"}, rows);
}

std::string render_app_info(const json& answer) {
  std::string replicas;
  for (const auto& r : list_of(answer, "replicas")) {
    if (!replicas.empty()) replicas += ", ";
    replicas += r.is_string() ? r.get<std::string>()
                : r.is_object() && r.contains("node") ? json_text(r, "node")
                                                      : r.dump();
  }
  const bool stopped = answer.is_object() && answer.value("stopped", false) == true;
  std::string out = "=== " + json_text(answer, "name") + "\n";
  const node::TableRow keys = {"Group:", "Leader:", "Replicas:", "Release:", "State:"};
  const node::TableRow values = {json_text(answer, "group"),
                                 json_text(answer, "leader").empty() ? "(none)" : json_text(answer, "leader"),
                                 replicas.empty() ? "(none)" : replicas,
                                 version_text(answer, "release"),
                                 stopped ? "stopped" : "running"};
  std::vector<node::TableRow> rows;
  for (size_t i = 0; i < keys.size(); ++i) rows.push_back({keys[i], values[i]});
  // render_table's first line is its header: give it the first pair.
  const node::TableRow header = rows.front();
  rows.erase(rows.begin());
  out += node::render_table(header, rows);
  const json formation = answer.is_object() ? answer.value("formation", json::object()) : json::object();
  if (formation.is_object() && !formation.empty()) {
    out += "\n" + render_formation_table(formation);
  }
  return out;
}

// CPU (% of the instance's limit) and memory of a running instance's newest sample.
std::pair<std::string, std::string> usage_cells(const json& i) {
  const json u = i.value("usage", json::object());
  if (!u.is_object() || i.value("state", "") != "running") return {"-", "-"};
  std::string cpu = "-", mem = "-";
  if (auto c = u.find("cpu_percent"); c != u.end() && c->is_number() && c->get<double>() >= 0) {
    cpu = std::to_string(static_cast<int64_t>(c->get<double>() + 0.5)) + "%";
  }
  if (auto m = u.find("memory_bytes"); m != u.end() && m->is_number_integer() && m->get<int64_t>() >= 0) {
    mem = format_bytes(m->get<uint64_t>());
  }
  return {cpu, mem};
}

std::string render_ps_table(const json& answer, int64_t now_ms) {
  std::vector<node::TableRow> rows;
  std::string notes;  // why instances are not running: "web.2: killed: out of memory (...)"
  for (const auto& i : list_of(answer, "instances")) {
    if (!i.is_object()) {
      rows.push_back({"", "", "", "", "", "", "", "", "", "", ""});
      continue;
    }
    std::string since;
    if (auto it = i.find("since_ms"); it != i.end() && it->is_number_integer() && *it != 0) {
      since = format_age(it->get<int64_t>(), now_ms);
    }
    const std::string port = json_text(i, "port");
    // An older node reports no health: as "none", it counts as healthy once running.
    const std::string health = json_text(i, "health");
    const auto [cpu, mem] = usage_cells(i);
    rows.push_back({json_text(i, "id"), json_text(i, "type"), json_text(i, "node"),
                    version_text(i, "release"), json_text(i, "state"),
                    health.empty() || health == "none" ? "-" : health, cpu, mem,
                    port.empty() || port == "0" ? "-" : port, json_text(i, "restarts"), since});
    const std::string message = json_text(i, "message");
    if (!message.empty() && json_text(i, "state") != "running") {
      notes += json_text(i, "id") + ": " + message + "\n";
    }
  }
  std::string out = node::render_table(
      {"ID", "Type", "Node", "Release", "State", "Health", "CPU", "Mem", "Port", "Restarts", "Since"},
      rows);
  return notes.empty() ? out : out + "\n" + notes;
}

std::string render_releases_table(const json& answer) {
  std::vector<node::TableRow> rows;
  // The Commit column only for an app some release of which came from git.
  bool commits = false;
  for (const auto& r : list_of(answer, "releases")) commits |= !json_text(r, "commit").empty();
  for (const auto& r : list_of(answer, "releases")) {
    std::string created;
    if (auto it = r.find("created_ms"); it != r.end() && it->is_number_integer()) {
      created = format_utc_ms(it->get<int64_t>()).substr(0, 19) + "Z";  // seconds are enough
    }
    const bool current = r.is_object() && r.value("current", false) == true;
    node::TableRow row = {current ? "*" : "", version_text(r, "version"),
                          json_text(r, "description"), json_text(r, "digest").substr(0, 12)};
    const std::string commit = json_text(r, "commit");
    if (commits) row.push_back(commit.empty() ? "-" : commit.substr(0, 12));
    row.push_back(created);
    rows.push_back(std::move(row));
  }
  if (!commits) return node::render_table({"", "Version", "Description", "Digest", "Created"}, rows);
  return node::render_table({"", "Version", "Description", "Digest", "Commit", "Created"}, rows);
}

std::string render_config(const json& answer) {
  std::string out;
  const json config = answer.is_object() ? answer.value("config", json::object()) : json::object();
  if (!config.is_object()) return out;
  for (const auto& [k, v] : config.items()) {  // nlohmann's object is a sorted map
    out += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()) + "\n";
  }
  return out;
}

}  // namespace shoal::cli
