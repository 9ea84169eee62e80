// cli/logs_render.h
//
// render_log_line: one NDJSON line of GET /v1/apps/{app}/logs ({"ts_ms", "instance",
// "type", "stream", "line"}, docs/apps.md) as people read it:
//   2026-11-26T11:31:43.123Z app[web.3f9a1c]: Listening on 20001
// and a line of an agent's own log ({"ts_ms", "node", "level", "line"}, shoal logs --system):
//   2026-11-26T11:31:43.123Z n1[warning]: member-failed name=n2 ...
// (UTC, as Heroku prints it; lines from stderr look the same, since the app chose to print
// them). A line that is not such an object is corruption naming it; an object with an
// "error" string (the agent reporting a problem inside the stream) is unavailable with
// that message.
//
// Contract: pure, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace shoal::cli {

Result<std::string> render_log_line(std::string_view ndjson_line);

}  // namespace shoal::cli
