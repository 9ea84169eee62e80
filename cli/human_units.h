// cli/human_units.h
//
// How the CLI writes sizes, rates, durations and times for people: "12.3 MiB", "1m05s",
// "2026-11-26T11:31:43.123Z", "3m" (an age). Binary units, UTC times, so output is the same
// on every machine.
//
// Contract: pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace shoal::cli {

// 512 B, 1.0 KiB, 12.3 MiB, 1.50 GiB.
std::string format_bytes(uint64_t bytes);
// Whole seconds: 7s, 1m05s, 2h03m. Negative counts as 0.
std::string format_seconds(double seconds);
// Milliseconds since the Unix epoch as UTC ISO 8601 with milliseconds.
std::string format_utc_ms(int64_t ms_since_epoch);
// How long ago `then_ms` was at `now_ms`, in its largest unit: 12s, 3m, 5h, 2d.
std::string format_age(int64_t then_ms, int64_t now_ms);

}  // namespace shoal::cli
