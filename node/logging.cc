#include "node/logging.h"

#include <spdlog/sinks/rotating_file_sink.h>
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

void setup_logging(LogLevel level, const std::optional<std::filesystem::path>& file_dir) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_level(spdlog_level(level));
  // Subscribers of the log stream (shoal monitor) may want more than the console shows.
  std::vector<spdlog::sink_ptr> sinks = {console, log_stream()};
  std::shared_ptr<spdlog::sinks::rotating_file_sink_mt> file;
  std::string file_error;
  if (file_dir) {
    try {
      std::filesystem::create_directories(*file_dir);
      file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          (*file_dir / "log").string(), kAgentLogBytes, kAgentLogKeep);
      file->set_level(spdlog_level(level));
      sinks.push_back(file);
    } catch (const std::exception& e) {  // spdlog and <filesystem> report by throwing
      file_error = e.what();
    }
  }
  auto logger = std::make_shared<spdlog::logger>("shoal", sinks.begin(), sinks.end());
  spdlog::register_logger(logger);
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
  // Epoch milliseconds (%E seconds, %e their milliseconds) and the level: an instance log's
  // "TS_MS STREAM TEXT", with the level as the stream.
  if (file) file->set_pattern("%E%e %l %v");
  if (!file_error.empty()) {
    spdlog::warn("agent-log-file-unavailable dir={} reason=\"{}\"", file_dir->string(), file_error);
  }
  log_stream()->set_console_level(spdlog_level(level));
  spdlog::flush_on(spdlog::level::info);  // a crash or kill -9 keeps what was said
}

}  // namespace shoal::node
