#include "cli/logs_render.h"

#include <nlohmann/json.hpp>

#include "cli/human_units.h"

namespace shoal::cli {

Result<std::string> render_log_line(std::string_view ndjson_line) {
  using nlohmann::json;
  constexpr size_t kQuoteMax = 200;
  const json entry = json::parse(ndjson_line, nullptr, /*allow_exceptions=*/false);
  if (entry.is_object() && !entry.contains("line") && entry.contains("error") &&
      entry["error"].is_string()) {
    return Status::unavailable(entry["error"].get<std::string>());
  }
  if (!entry.is_object() || !entry.contains("line") || !entry["line"].is_string() ||
      !entry.contains("ts_ms") || !entry["ts_ms"].is_number_integer()) {
    return Status::corruption("the agent sent a line that is not a log entry: " +
                              std::string(ndjson_line.substr(0, kQuoteMax)));
  }
  const std::string when = format_utc_ms(entry["ts_ms"].get<int64_t>());
  if (auto node = entry.find("node"); node != entry.end() && node->is_string()) {
    // The agent's own log (shoal logs --system).
    std::string level = "?";
    if (auto l = entry.find("level"); l != entry.end() && l->is_string()) level = *l;
    return when + " " + node->get<std::string>() + "[" + level + "]: " +
           entry["line"].get<std::string>();
  }
  std::string instance = "?";
  if (auto it = entry.find("instance"); it != entry.end() && it->is_string()) instance = *it;
  return when + " app[" + instance + "]: " + entry["line"].get<std::string>();
}

}  // namespace shoal::cli
