// node/logging.h
//
// The agent's logging: spdlog's default logger, to stderr, one line per event, starting
// with a UTC timestamp and the level, then `event key=value ...` so logs can be grepped
// (`grep member-join`). Call once at startup, before any other thread starts.
#pragma once

#include "node/agent_config.h"

namespace shoal::node {

void setup_logging(LogLevel level);

}  // namespace shoal::node
