#include "node/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace shoal::node {

void setup_logging(LogLevel level) {
  auto logger = spdlog::stderr_color_mt("shoal");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
  switch (level) {
    case LogLevel::trace: spdlog::set_level(spdlog::level::trace); break;
    case LogLevel::debug: spdlog::set_level(spdlog::level::debug); break;
    case LogLevel::info: spdlog::set_level(spdlog::level::info); break;
    case LogLevel::warn: spdlog::set_level(spdlog::level::warn); break;
    case LogLevel::error: spdlog::set_level(spdlog::level::err); break;
  }
  spdlog::flush_on(spdlog::level::info);  // a crash or kill -9 keeps what was said
}

}  // namespace shoal::node
