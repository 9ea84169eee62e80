#include "node/duration_text.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cmath>
#include <string>

namespace shoal::node {

Result<Duration> parse_duration(std::string_view text) {
  const std::string original(text);
  if (text.empty()) return Status::invalid_argument("empty duration");
  double total_ns = 0;
  while (!text.empty()) {
    size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == 0) {
      return Status::invalid_argument("duration '" + original +
                                      "' is not a number with a unit (e.g. 500ms, 5s, 1m)");
    }
    double value = 0;
    try {
      value = std::stod(std::string(text.substr(0, i)));
    } catch (...) {
      return Status::invalid_argument("duration '" + original + "' has a bad number");
    }
    text.remove_prefix(i);
    size_t j = 0;
    while (j < text.size() && std::isalpha(static_cast<unsigned char>(text[j]))) ++j;
    const std::string_view unit = text.substr(0, j);
    text.remove_prefix(j);
    double scale = 0;
    if (unit == "ns") scale = 1;
    else if (unit == "us") scale = 1e3;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "s") scale = 1e9;
    else if (unit == "m") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else {
      return Status::invalid_argument("duration '" + original +
                                      "' needs a unit: ns, us, ms, s, m or h");
    }
    total_ns += value * scale;
  }
  if (total_ns > 24 * 3600e9) return Status::invalid_argument("duration '" + original + "' is over 24h");
  return Duration(static_cast<int64_t>(std::llround(total_ns)));
}

Status duration_from_env_ms(const char* name, int64_t min_ms, Duration* out) {
  const char* text = std::getenv(name);
  if (text == nullptr) return {};
  const std::string_view v(text);
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
  if (ec != std::errc() || end != v.data() + v.size() || ms < min_ms || ms > (int64_t{1} << 40)) {
    return Status::invalid_argument(std::string(name) + "='" + std::string(v.substr(0, 40)) +
                                    "' is not a number of milliseconds >= " +
                                    std::to_string(min_ms));
  }
  *out = std::chrono::milliseconds(ms);
  return {};
}

}  // namespace shoal::node
