// node/text_table.h
//
// Plain-text tables for humans (the `shoal` CLI): every column padded to its widest cell,
// columns separated by two spaces, no trailing spaces, one row per line. Widths count
// UTF-8 code points, so names with accents still line up.
//
// Contract: pure functions, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace shoal::node {

using TableRow = std::vector<std::string>;

// Rows shorter than the header are padded with empty cells.
std::string render_table(const TableRow& header, const std::vector<TableRow>& rows);

// `members` as GET /v1/members returns them: Name, Address, Status, Tags (k=v,k=v sorted).
std::string format_members_table(const nlohmann::json& members);

size_t display_width(std::string_view text);

}  // namespace shoal::node
