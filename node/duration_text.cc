#include "node/duration_text.h"

#include <cctype>
#include <chrono>
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

Result<int64_t> parse_since(std::string_view text, int64_t now_ms) {
  const std::string original(text.substr(0, 64));
  int64_t ms = 0;
  if (auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
      ec == std::errc() && end == text.data() + text.size() && ms >= 0) {
    return ms;
  }
  if (text.size() >= 20 && text[4] == '-' && text[10] == 'T' && text.back() == 'Z') {
    // YYYY-MM-DDTHH:MM:SS[.mmm]Z
    int f[6] = {0, 0, 0, 0, 0, 0};
    const size_t at[6] = {0, 5, 8, 11, 14, 17};
    const size_t len[6] = {4, 2, 2, 2, 2, 2};
    bool ok = text[7] == '-' && text[13] == ':' && text[16] == ':';
    for (int i = 0; i < 6 && ok; ++i) {
      auto [end, ec] = std::from_chars(text.data() + at[i], text.data() + at[i] + len[i], f[i]);
      ok = ec == std::errc() && end == text.data() + at[i] + len[i];
    }
    int millis = 0;
    std::string_view rest = text.substr(19, text.size() - 20);
    if (ok && !rest.empty()) {
      ok = rest.size() == 4 && rest[0] == '.';
      if (ok) {
        auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + 4, millis);
        ok = ec == std::errc() && end == rest.data() + 4;
      }
    }
    ok = ok && f[1] >= 1 && f[1] <= 12 && f[2] >= 1 && f[2] <= 31 && f[3] < 24 && f[4] < 60 &&
         f[5] < 61;
    if (ok) {
      const std::chrono::year_month_day ymd{std::chrono::year(f[0]),
                                            std::chrono::month(static_cast<unsigned>(f[1])),
                                            std::chrono::day(static_cast<unsigned>(f[2]))};
      if (ymd.ok()) {
        const auto days = std::chrono::sys_days(ymd).time_since_epoch();
        return std::chrono::duration_cast<std::chrono::milliseconds>(days).count() +
               ((f[3] * 60 + f[4]) * 60 + f[5]) * int64_t{1000} + millis;
      }
    }
    return Status::invalid_argument("since: '" + original +
                                    "' is not a UTC time like 2026-12-07T06:00:00Z");
  }
  auto d = parse_duration(text);
  if (!d.ok()) {
    return Status::invalid_argument("since: '" + original +
                                    "' is not a duration (10m), a UTC time "
                                    "(2026-12-07T06:00:00Z) or milliseconds since the epoch");
  }
  return now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(*d).count();
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
