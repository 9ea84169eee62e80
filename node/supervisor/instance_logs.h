// node/supervisor/instance_logs.h
//
// Reading the log files the shims write (node/supervisor/shim.h: "TS_MS out|err TEXT" per
// line in INSTANCE_DIR/log, rotated to log.1, log.2, ...), for `GET /v1/internal/logs`.
//
// Contract:
//  - tail_logs() returns the last `n` lines over all sources, oldest first, merged by
//    timestamp (stable per source). Unfiltered, it reads each file from its end, never whole.
//  - LogFollower::poll() returns the lines appended since the last poll (or since the
//    follower was made, for the sources it was made with; a source added later is read from
//    its start, as it is a new instance). A rotation between polls is followed: the rest of
//    the rotated file is read first. Lines that do not parse are skipped.
//  - to_ndjson() never throws: invalid UTF-8 in a line is replaced.
//  - Files only, no locking: one follower per reader thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::node::supervisor {

struct LogLine {
  int64_t ts_ms = 0;
  std::string instance;
  std::string type;
  std::string stream;  // "out" | "err"
  std::string line;
};

struct LogSource {
  std::string instance;
  std::string type;
  std::filesystem::path dir;  // the instance directory
};

// The type of the agent's own log as a source (instance: the node's name; dir:
// DATA_DIR/agent, node/logging.h): its lines' stream is their level.
inline constexpr std::string_view kAgentLogType = "agent";

// Which lines a reader wants (`shoal logs --since --grep`): written at or after since_ms,
// and containing `text` as is (a fixed string, as grep -F: a pattern that arrives over the
// network is never a regex the node must run). Default: every line.
struct LogFilter {
  int64_t since_ms = 0;
  std::string text;
  bool empty() const { return since_ms <= 0 && text.empty(); }
  bool matches(const LogLine& l) const;
};

// {"ts_ms", "instance", "type", "stream", "line"} and a newline.
std::string to_ndjson(const LogLine& l);
// A line of the agent's own log: {"ts_ms", "node", "level", "line"} and a newline.
std::string to_system_ndjson(const LogLine& l);
std::optional<LogLine> parse_log_line(std::string_view raw, const LogSource& source);

// The last `n` lines that pass `filter`. With a filter the retained files are read whole
// (at most keep + 1 rotations of the log size per instance).
std::vector<LogLine> tail_logs(const std::vector<LogSource>& sources, size_t n, int keep = 2,
                               const LogFilter& filter = {});

class LogFollower {
 public:
  explicit LogFollower(const std::vector<LogSource>& sources);
  // Adds sources not seen before (read from their start); keeps the others' positions.
  void update_sources(const std::vector<LogSource>& sources);
  std::vector<LogLine> poll();

 private:
  struct Position {
    LogSource source;
    ino_t inode = 0;
    int64_t offset = 0;
    std::string partial;
  };
  void read_from(Position& p, const std::filesystem::path& file, std::vector<LogLine>& out);
  std::map<std::filesystem::path, Position> positions_;
};

}  // namespace shoal::node::supervisor
