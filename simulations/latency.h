// simulations/latency.h
//
// LatencyDist: how long one datagram takes on a link, drawn from a distribution:
//   fixed(d)              always d
//   uniform(lo, hi)       uniform in [lo, hi]
//   normal(mean, stddev)  Gaussian, clamped at zero
//   pareto(min, shape)    long tail: min / U^(1/shape); mean = min*shape/(shape-1) for shape>1
// Every draw takes the caller's Rng, so a run stays a function of its seed. Draws are capped
// at `cap` (default 30 s) so one unlucky sample cannot stall a run.
// Value type; not thread-safe only in the sense that the Rng passed in is not.
#pragma once

#include <string>

#include "base/rng.h"
#include "base/status.h"
#include "base/time.h"

namespace shoal::sim {

struct LatencyDist {
  enum class Kind : uint8_t { fixed, uniform, normal, pareto };
  Kind kind = Kind::fixed;
  Duration a{};  // fixed: value; uniform: lo; normal: mean; pareto: min
  Duration b{};  // uniform: hi; normal: stddev
  double shape = 2.0;
  Duration cap = std::chrono::seconds(30);

  static LatencyDist fixed(Duration d) { return {Kind::fixed, d, {}}; }
  static LatencyDist uniform(Duration lo, Duration hi) { return {Kind::uniform, lo, hi}; }
  static LatencyDist normal(Duration mean, Duration stddev) {
    return {Kind::normal, mean, stddev};
  }
  static LatencyDist pareto(Duration min, double shape) {
    LatencyDist d{Kind::pareto, min, {}};
    d.shape = shape;
    return d;
  }

  Duration sample(Rng& rng) const;
  // The distribution's mean (for pareto with shape <= 1: the cap), for docs and tests.
  Duration mean() const;
  // "normal(2ms, 0.5ms)".
  std::string to_string() const;
};

// Parses "250ms", "1.5s", "2m", "800us", "0". invalid_argument names the text on failure.
Result<Duration> parse_duration(std::string_view text);
// "1.5s", "250ms": the shortest exact-ish form, for summaries.
std::string format_duration(Duration d);

}  // namespace shoal::sim
