// node/duration_text.h
//
// parse_duration: durations as Go's time.ParseDuration writes them, which is how serf's
// CLI and Shoal's flags and query parameters take them: "500ms", "5s", "1m30s", "2h".
//
// Contract: pure. Units ns, us, ms, s, m, h; at most 24 h. An error is invalid_argument and
// names the text and what was expected.
#pragma once

#include <string_view>

#include "base/status.h"
#include "base/time.h"

namespace shoal::node {

Result<Duration> parse_duration(std::string_view text);

// A point in time as `--since` takes it (`shoal logs`): a duration back from `now_ms`
// ("10m"), a UTC timestamp ("2026-12-07T06:00:00Z", with optional .mmm), or milliseconds
// since the Unix epoch. Milliseconds since the epoch, or invalid_argument naming the text.
Result<int64_t> parse_since(std::string_view text, int64_t now_ms);

// A test-only timing override from the environment (SHOAL_*_MS, docs say which): unset
// leaves *out as it is; a value that is not a whole number of milliseconds >= min_ms is
// invalid_argument naming the variable.
Status duration_from_env_ms(const char* name, int64_t min_ms, Duration* out);

}  // namespace shoal::node
