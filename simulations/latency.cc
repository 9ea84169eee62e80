#include "simulations/latency.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace shoal::sim {

namespace {
constexpr double kTwoPi = 6.283185307179586;

Duration from_seconds(double s) {
  return Duration(static_cast<Duration::rep>(std::llround(s * 1e9)));
}
}  // namespace

Duration LatencyDist::sample(Rng& rng) const {
  Duration d{};
  switch (kind) {
    case Kind::fixed:
      d = a;
      break;
    case Kind::uniform: {
      const auto span = static_cast<uint64_t>(std::max<Duration::rep>(0, (b - a).count()));
      d = a + Duration(static_cast<Duration::rep>(span == 0 ? 0 : rng.uniform(span + 1)));
      break;
    }
    case Kind::normal: {
      // Box-Muller; 1 - u keeps the log argument in (0, 1].
      const double u1 = 1.0 - rng.uniform01();
      const double u2 = rng.uniform01();
      const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
      d = from_seconds(to_seconds(a) + z * to_seconds(b));
      break;
    }
    case Kind::pareto: {
      const double u = 1.0 - rng.uniform01();  // (0, 1]
      d = from_seconds(to_seconds(a) / std::pow(u, 1.0 / shape));
      break;
    }
  }
  return std::clamp(d, Duration::zero(), cap);
}

Duration LatencyDist::mean() const {
  switch (kind) {
    case Kind::fixed: return a;
    case Kind::uniform: return (a + b) / 2;
    case Kind::normal: return a;  // ignores the clamp at zero (small when stddev << mean)
    case Kind::pareto:
      if (shape <= 1.0) return cap;
      return from_seconds(to_seconds(a) * shape / (shape - 1.0));
  }
  return a;
}

std::string LatencyDist::to_string() const {
  switch (kind) {
    case Kind::fixed: return format_duration(a);
    case Kind::uniform: return fmt::format("uniform({}, {})", format_duration(a), format_duration(b));
    case Kind::normal: return fmt::format("normal({}, {})", format_duration(a), format_duration(b));
    case Kind::pareto: return fmt::format("pareto({}, shape {})", format_duration(a), shape);
  }
  return "?";
}

Result<Duration> parse_duration(std::string_view text) {
  if (text == "0") return Duration::zero();
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) {
    return Status::invalid_argument(
        fmt::format("'{}' is not a duration (want e.g. \"250ms\", \"1.5s\", \"2m\")", text));
  }
  double value = 0;
  // std::from_chars for double is in libstdc++ 11+.
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, value);
  if (ec != std::errc() || ptr != text.data() + i) {
    return Status::invalid_argument(fmt::format("'{}' is not a duration", text));
  }
  const std::string_view unit = text.substr(i);
  double scale = 0;
  if (unit == "ns") scale = 1e-9;
  else if (unit == "us") scale = 1e-6;
  else if (unit == "ms") scale = 1e-3;
  else if (unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else {
    return Status::invalid_argument(fmt::format(
        "'{}' has unit '{}'; use one of ns, us, ms, s, m, h", text, unit));
  }
  return from_seconds(value * scale);
}

std::string format_duration(Duration d) {
  const auto ns = d.count();
  if (ns == 0) return "0";
  if (ns % 1'000'000'000 == 0) return fmt::format("{}s", ns / 1'000'000'000);
  if (ns % 1'000'000 == 0) {
    if (ns >= 1'000'000'000) return fmt::format("{:g}s", static_cast<double>(ns) / 1e9);
    return fmt::format("{}ms", ns / 1'000'000);
  }
  if (ns >= 1'000'000) return fmt::format("{:.3f}ms", static_cast<double>(ns) / 1e6);
  if (ns % 1000 == 0) return fmt::format("{}us", ns / 1000);
  return fmt::format("{}ns", ns);
}

}  // namespace shoal::sim
