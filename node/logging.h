// node/logging.h
//
// The agent's logging: spdlog's default logger, to stderr, one line per event, starting
// with a UTC timestamp and the level, then `event key=value ...` so logs can be grepped
// (`grep member-join`). Call once at startup, before any other thread starts.
//
// With `file_dir`, the same lines also go to FILE_DIR/log (rotated at 10 MiB to log.1 and
// log.2) as "TS_MS LEVEL TEXT", the format of an instance's log (supervisor/instance_logs.h),
// so `shoal logs --system` reads and follows them as it does an app's (docs/reporting.md).
#pragma once

#include <filesystem>
#include <optional>

#include "node/agent_config.h"

namespace shoal::node {

inline constexpr size_t kAgentLogBytes = 10 << 20;
inline constexpr int kAgentLogKeep = 2;

void setup_logging(LogLevel level, const std::optional<std::filesystem::path>& file_dir = {});

}  // namespace shoal::node
