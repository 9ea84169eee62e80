#include "node/supervisor/instance_logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace shoal::node::supervisor {
namespace fs = std::filesystem;
namespace {

constexpr size_t kBlock = 64 * 1024;
constexpr int64_t kMaxReadPerPoll = 4 * 1024 * 1024;

// The timestamp a raw line starts with ("TS_MS out|err TEXT"), or -1.
int64_t leading_ts(std::string_view line) {
  int64_t ts = -1;
  const auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), ts);
  return ec == std::errc() ? ts : -1;
}

// The last `n` complete lines of `path` (fewer if the file has fewer), oldest first. With
// `since_ms`, reading backwards stops once a whole line older than it was read: a filtered
// follow that asks again every few seconds must not reread the whole file each time.
std::vector<std::string> last_lines(const fs::path& path, size_t n, int64_t since_ms = 0) {
  std::vector<std::string> out;
  if (n == 0) return out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return out;
  }
  int64_t end = st.st_size;
  std::string tail;  // a suffix of the file
  size_t newlines = 0;
  while (end > 0 && newlines <= n) {
    const int64_t start = std::max<int64_t>(0, end - static_cast<int64_t>(kBlock));
    std::string block(static_cast<size_t>(end - start), '\0');
    const ssize_t got = ::pread(fd, block.data(), block.size(), start);
    if (got <= 0) break;
    block.resize(static_cast<size_t>(got));
    newlines += static_cast<size_t>(std::count(block.begin(), block.end(), '\n'));
    tail.insert(0, block);
    end = start;
    if (since_ms > 0) {
      // The first whole line read so far: from the file's start, or after the first '\n'.
      const size_t nl = end == 0 ? std::string::npos : tail.find('\n');
      const size_t at = end == 0 ? 0 : (nl == std::string::npos ? tail.size() : nl + 1);
      const int64_t ts = leading_ts(std::string_view(tail).substr(std::min(at, tail.size())));
      if (ts >= 0 && ts < since_ms) break;
    }
  }
  ::close(fd);
  // Split; a last fragment without '\n' is a line still being written: skip it.
  size_t pos = 0;
  std::vector<std::string> lines;
  for (;;) {
    const size_t nl = tail.find('\n', pos);
    if (nl == std::string::npos) break;
    lines.emplace_back(tail.substr(pos, nl - pos));
    pos = nl + 1;
  }
  // If we stopped reading before the file start, the first fragment may be partial.
  if (end > 0 && !lines.empty()) lines.erase(lines.begin());
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(n));
  return lines;
}

}  // namespace

std::string to_ndjson(const LogLine& l) {
  nlohmann::json j{{"ts_ms", l.ts_ms},
                   {"instance", l.instance},
                   {"type", l.type},
                   {"stream", l.stream},
                   {"line", l.line}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string to_system_ndjson(const LogLine& l) {
  nlohmann::json j{{"ts_ms", l.ts_ms}, {"node", l.instance}, {"level", l.stream}, {"line", l.line}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::optional<LogLine> parse_log_line(std::string_view raw, const LogSource& source) {
  const size_t sp1 = raw.find(' ');
  if (sp1 == std::string_view::npos) return std::nullopt;
  const size_t sp2 = raw.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return std::nullopt;
  LogLine l;
  const auto [ptr, ec] = std::from_chars(raw.data(), raw.data() + sp1, l.ts_ms);
  if (ec != std::errc() || ptr != raw.data() + sp1) return std::nullopt;
  l.stream = std::string(raw.substr(sp1 + 1, sp2 - sp1 - 1));
  if (source.type == kAgentLogType) {
    // The agent's own log (node/logging.h): the stream is the level.
    static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warning",
                                                   "error", "critical"};
    if (std::find(std::begin(kLevels), std::end(kLevels), l.stream) == std::end(kLevels)) {
      return std::nullopt;
    }
  } else if (l.stream != "out" && l.stream != "err") {
    return std::nullopt;
  }
  l.line = std::string(raw.substr(sp2 + 1));
  l.instance = source.instance;
  l.type = source.type;
  return l;
}

bool LogFilter::matches(const LogLine& l) const {
  return l.ts_ms >= since_ms && (text.empty() || l.line.find(text) != std::string::npos);
}

std::vector<LogLine> tail_logs(const std::vector<LogSource>& sources, size_t n, int keep,
                               const LogFilter& filter) {
  std::vector<LogLine> all;
  for (const auto& src : sources) {
    // Newest file first; older files only while more lines are wanted (and, with a since,
    // while the file read did not already start before it).
    std::vector<LogLine> mine;
    bool older_wanted = true;
    for (int i = 0; i <= keep && mine.size() < n && older_wanted; ++i) {
      const fs::path file = i == 0 ? src.dir / "log" : src.dir / ("log." + std::to_string(i));
      const size_t want = filter.empty() ? n - mine.size() : SIZE_MAX;
      std::vector<LogLine> parsed;
      bool first = true;
      for (const auto& raw : last_lines(file, want, filter.since_ms)) {
        auto l = parse_log_line(raw, src);
        if (!l) continue;
        if (first && l->ts_ms < filter.since_ms) older_wanted = false;
        first = false;
        if (filter.matches(*l)) parsed.push_back(std::move(*l));
      }
      mine.insert(mine.begin(), std::make_move_iterator(parsed.begin()),
                  std::make_move_iterator(parsed.end()));
    }
    if (mine.size() > n) mine.erase(mine.begin(), mine.end() - static_cast<std::ptrdiff_t>(n));
    all.insert(all.end(), std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const LogLine& a, const LogLine& b) { return a.ts_ms < b.ts_ms; });
  if (all.size() > n) all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(n));
  return all;
}

LogFollower::LogFollower(const std::vector<LogSource>& sources) {
  for (const auto& src : sources) {
    Position p;
    p.source = src;
    struct stat st {};
    if (::stat((src.dir / "log").c_str(), &st) == 0) {
      p.inode = st.st_ino;
      p.offset = st.st_size;
    }
    positions_[src.dir] = std::move(p);
  }
}

void LogFollower::update_sources(const std::vector<LogSource>& sources) {
  for (const auto& src : sources) {
    if (positions_.count(src.dir)) continue;
    Position p;
    p.source = src;
    positions_[src.dir] = std::move(p);
  }
}

void LogFollower::read_from(Position& p, const fs::path& file, std::vector<LogLine>& out) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  int64_t budget = kMaxReadPerPoll;
  char buf[kBlock];
  while (budget > 0) {
    const ssize_t got = ::pread(fd, buf, sizeof buf, p.offset);
    if (got <= 0) break;
    p.offset += got;
    budget -= got;
    p.partial.append(buf, static_cast<size_t>(got));
    size_t pos = 0;
    for (;;) {
      const size_t nl = p.partial.find('\n', pos);
      if (nl == std::string::npos) break;
      if (auto l = parse_log_line(std::string_view(p.partial).substr(pos, nl - pos), p.source)) {
        out.push_back(std::move(*l));
      }
      pos = nl + 1;
    }
    p.partial.erase(0, pos);
  }
  ::close(fd);
}

std::vector<LogLine> LogFollower::poll() {
  std::vector<LogLine> out;
  for (auto& [dir, p] : positions_) {
    struct stat st {};
    if (::stat((dir / "log").c_str(), &st) != 0) continue;
    if (p.inode != 0 && st.st_ino != p.inode) {
      // Rotated: finish the old file (now log.1) if it is still there, then start over.
      struct stat old {};
      if (::stat((dir / "log.1").c_str(), &old) == 0 && old.st_ino == p.inode) {
        read_from(p, dir / "log.1", out);
      }
      p.offset = 0;
      p.partial.clear();
    } else if (st.st_size < p.offset) {
      p.offset = 0;  // truncated
      p.partial.clear();
    }
    p.inode = st.st_ino;
    read_from(p, dir / "log", out);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const LogLine& a, const LogLine& b) { return a.ts_ms < b.ts_ms; });
  return out;
}

}  // namespace shoal::node::supervisor
