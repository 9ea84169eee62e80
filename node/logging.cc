#include "node/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "node/log_stream.h"

namespace shoal::node {

namespace {

spdlog::level::level_enum spdlog_level(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

void setup_logging(LogLevel level) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_level(spdlog_level(level));
  // Subscribers of the log stream (shoal monitor) may want more than the console shows.
  auto logger = std::make_shared<spdlog::logger>(
      "shoal", spdlog::sinks_init_list{console, log_stream()});
  spdlog::register_logger(logger);
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
  log_stream()->set_console_level(spdlog_level(level));
  spdlog::flush_on(spdlog::level::info);  // a crash or kill -9 keeps what was said
}

}  // namespace shoal::node
