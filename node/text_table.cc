#include "node/text_table.h"

#include <algorithm>

namespace shoal::node {

size_t display_width(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;  // count lead bytes, not continuation bytes
  }
  return n;
}

std::string render_table(const TableRow& header, const std::vector<TableRow>& rows) {
  size_t columns = header.size();
  for (const auto& r : rows) columns = std::max(columns, r.size());
  std::vector<size_t> width(columns, 0);
  auto measure = [&](const TableRow& r) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], display_width(r[i]));
  };
  measure(header);
  for (const auto& r : rows) measure(r);

  std::string out;
  auto emit = [&](const TableRow& r) {
    std::string line;
    for (size_t i = 0; i < columns; ++i) {
      const std::string cell = i < r.size() ? r[i] : std::string();
      line += cell;
      if (i + 1 < columns) line.append(width[i] - display_width(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  emit(header);
  for (const auto& r : rows) emit(r);
  return out;
}

std::string format_members_table(const nlohmann::json& members) {
  std::vector<TableRow> rows;
  if (members.is_array()) {
    for (const auto& m : members) {
      auto str = [&](const char* key) {
        auto it = m.find(key);
        return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      std::string tags;
      if (auto it = m.find("tags"); it != m.end() && it->is_object()) {
        for (const auto& [k, v] : it->items()) {  // nlohmann objects iterate sorted
          if (!tags.empty()) tags += ',';
          tags += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
        }
      }
      rows.push_back({str("name"), str("addr"), str("status"), tags});
    }
  }
  return render_table({"Name", "Address", "Status", "Tags"}, rows);
}

}  // namespace shoal::node
