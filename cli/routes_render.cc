#include "cli/routes_render.h"

#include "cli/apps_render.h"
#include "cli/human_units.h"
#include "node/text_table.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

json array_of(const json& object, const char* key) {
  if (!object.is_object()) return json::array();
  auto it = object.find(key);
  return it != object.end() && it->is_array() ? *it : json::array();
}

}  // namespace

std::string render_routes_table(const json& answer) {
  const std::string domain = json_text(answer, "domain");
  std::vector<node::TableRow> rows;
  const json apps = array_of(answer, "apps");
  for (const auto& app : apps) {
    const std::string name = json_text(app, "app");
    std::vector<std::string> hosts = {domain.empty() ? name : name + "." + domain};
    const json domains = array_of(app, "domains");
    for (const auto& d : domains) {
      if (d.is_string()) hosts.push_back(d.get<std::string>());
    }
    std::vector<std::string> backends;
    const json list = array_of(app, "backends");
    for (const auto& b : list) {
      const std::string host = json_text(b, "host");
      const std::string where = host.find(':') != std::string::npos ? "[" + host + "]" : host;
      backends.push_back(json_text(b, "instance") + "@" + json_text(b, "node") + " " + where +
                         ":" + json_text(b, "port"));
    }
    if (backends.empty()) backends.push_back("-");
    const size_t down = array_of(app, "down").size();
    if (down > 0) backends.push_back("(" + std::to_string(down) + " on down nodes)");
    const auto age = app.is_object() ? app.value("age_ms", json()) : json();
    const std::string age_text =
        age.is_number_integer() ? format_age(0, age.get<int64_t>()) : std::string("-");
    const size_t lines = std::max(hosts.size(), backends.size());
    for (size_t i = 0; i < lines; ++i) {
      rows.push_back({i == 0 ? name : "", i < hosts.size() ? hosts[i] : "",
                      i < backends.size() ? backends[i] : "", i == 0 ? age_text : ""});
    }
  }
  return node::render_table({"App", "Hosts", "Backends", "Age"}, rows);
}

std::string render_domains(const json& answer) {
  const json domains = array_of(answer, "domains");
  if (domains.empty()) {
    return "App " + json_text(answer, "app") +
           " has no custom domain (add one with `shoal domains add APP HOST`)\n";
  }
  const json tls = answer.contains("tls") && answer["tls"].is_object() ? answer["tls"] : json::object();
  std::string out;
  if (tls.empty()) {
    for (const auto& d : domains) out += (d.is_string() ? d.get<std::string>() : d.dump()) + "\n";
    return out;
  }
  std::vector<node::TableRow> rows;
  for (const auto& d : domains) {
    const std::string host = d.is_string() ? d.get<std::string>() : d.dump();
    std::string state = "-";
    if (auto it = tls.find(host); it != tls.end() && it->is_object()) {
      if (it->contains("error")) {
        state = "unusable: " + json_text(*it, "error");
      } else if (it->value("expired", false)) {
        state = "expired " + json_text(*it, "not_after");
      } else {
        state = "until " + json_text(*it, "not_after");
      }
    }
    rows.push_back({host, state});
  }
  return node::render_table({"Host", "TLS"}, rows);
}

}  // namespace shoal::cli
