#include "cli/top_render.h"

#include <fmt/format.h>

#include "cli/human_units.h"
#include "node/text_table.h"

namespace shoal::cli {

using nlohmann::json;

namespace {

std::string percent(const json& obj, const char* key, double scale = 1) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number()) return "-";
  return fmt::format("{:.1f}%", obj[key].get<double>() * scale);
}

std::string bytes(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number()) return "-";
  const int64_t v = obj[key].get<int64_t>();
  return v < 0 ? "-" : format_bytes(static_cast<uint64_t>(v));
}

std::string roles_text(const json& roles) {
  if (!roles.is_object()) return "-";
  std::string out;
  if (roles.contains("catalog") && roles["catalog"].is_string()) {
    out = "catalog " + roles["catalog"].get<std::string>();
  }
  const json leads = roles.value("app_leader", json::array());
  if (!leads.empty()) {
    out += out.empty() ? "leads" : ", leads";
    for (const auto& a : leads) out += " " + a.get<std::string>();
  }
  return out.empty() ? "-" : out;
}

std::string instances_text(const json& instances) {
  if (!instances.is_object()) return "-";
  const json by_state = instances.value("by_state", json::object());
  std::string out = std::to_string(instances.value("total", 0));
  const int running = by_state.value("running", 0);
  if (running != instances.value("total", 0)) out += fmt::format(" ({} running)", running);
  return out;
}

}  // namespace

std::string render_nodes_table(const json& answer) {
  std::vector<node::TableRow> rows;
  for (const auto& n : answer.value("nodes", json::array())) {
    const json usage = n.value("usage", json::object());
    std::string memory = "-";
    if (usage.contains("memory_used_bytes")) {
      memory = bytes(usage, "memory_used_bytes") + " / " + bytes(usage, "memory_total_bytes");
    }
    std::string status = n.value("status", "");
    if (n.contains("error")) status += " (" + n["error"].get<std::string>() + ")";
    if (!n.value("shoal", true)) status += " (not Shoal)";
    const std::string cpu =
        usage.contains("cpu_percent")
            ? percent(usage, "cpu_percent") + " of " + std::to_string(usage.value("cores", 0)) + " cores"
            : "-";
    rows.push_back({n.value("name", ""), status, cpu, memory, bytes(usage, "agent_rss_bytes"),
                    instances_text(n.value("instances", json())), roles_text(n.value("roles", json()))});
  }
  return node::render_table({"Name", "Status", "CPU", "Memory", "Agent", "Instances", "Roles"},
                            rows);
}

std::string render_usage_tables(const json& usage) {
  std::vector<node::TableRow> apps;
  for (const auto& a : usage.value("apps", json::array())) {
    apps.push_back({a.value("app", ""), std::to_string(a.value("instances", 0)),
                    std::to_string(a.value("running", 0)), percent(a, "cpu_millis", 0.1),
                    bytes(a, "memory_bytes"), std::to_string(a.value("restarts", 0))});
  }
  std::vector<node::TableRow> instances;
  for (const auto& i : usage.value("instances", json::array())) {
    const json u = i.value("usage", json::object());
    instances.push_back({i.value("app", ""), i.value("id", ""), i.value("node", ""),
                         i.value("state", ""), percent(u, "cpu_millis", 0.1),
                         percent(u, "cpu_percent"), bytes(u, "memory_bytes"),
                         std::to_string(i.value("restarts", 0))});
  }
  std::string out;
  if (apps.empty()) {
    out = "No instances run in the cluster.\n";
  } else {
    out = node::render_table({"App", "Instances", "Running", "CPU", "Memory", "Restarts"}, apps);
    out += "\n";
    out += node::render_table(
        {"App", "Instance", "Node", "State", "CPU", "Limit", "Memory", "Restarts"}, instances);
  }
  for (const auto& u : usage.value("unreachable", json::array())) {
    out += fmt::format("(node {} did not answer: {})\n", u.value("node", ""), u.value("error", ""));
  }
  return out;
}

}  // namespace shoal::cli
