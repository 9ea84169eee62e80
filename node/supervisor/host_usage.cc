#include "node/supervisor/host_usage.h"

#include <unistd.h>

#include <charconv>
#include <string>
#include <vector>

#include "node/supervisor/small_file.h"

namespace shoal::node::supervisor {
namespace {

bool blank(char c) { return c == ' ' || c == '\t'; }

// The whitespace-separated integers at the start of `s`, up to the first that isn't one.
std::vector<int64_t> numbers(std::string_view s) {
  std::vector<int64_t> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && blank(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !blank(s[j]) && s[j] != '\n') ++j;
    if (j == i) break;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data() + i, s.data() + j, v);
    if (ec != std::errc() || end != s.data() + j) break;
    out.push_back(v);
    i = j;
  }
  return out;
}

std::string_view line_of(std::string_view text, std::string_view prefix) {
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(at, nl - at);
    if (line.substr(0, prefix.size()) == prefix) return line.substr(prefix.size());
    at = nl + 1;
  }
  return {};
}

// "   123456 kB" -> bytes.
std::optional<int64_t> kib_field(std::string_view text, std::string_view key) {
  std::string_view rest = line_of(text, key);
  if (rest.empty()) return std::nullopt;
  auto n = numbers(rest.substr(0, rest.find(" kB")));
  if (n.size() != 1 || n[0] < 0) return std::nullopt;
  return n[0] * 1024;
}

std::string read_all(const char* path) {
  std::string text;
  return read_small_file(path, text) ? text : std::string();
}

}  // namespace

Result<CpuTicks> parse_proc_stat(std::string_view text) {
  auto n = numbers(line_of(text, "cpu "));
  // user nice system idle iowait irq softirq steal ...
  if (n.size() < 4) return Status::corruption("/proc/stat: no aggregate cpu line");
  CpuTicks t;
  for (int64_t v : n) t.total += v;
  t.busy = t.total - n[3] - (n.size() > 4 ? n[4] : 0);
  return t;
}

Result<std::pair<int64_t, int64_t>> parse_meminfo(std::string_view text) {
  auto total = kib_field(text, "MemTotal:");
  auto available = kib_field(text, "MemAvailable:");
  if (!total || !available) return Status::corruption("/proc/meminfo: no MemTotal or MemAvailable");
  return std::make_pair(*total, *available);
}

Result<int64_t> parse_pid_stat_cpu(std::string_view text) {
  const size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) return Status::corruption("/proc/PID/stat: no command");
  // After ") ": state, then fields 4.. of proc(5); utime and stime are fields 14 and 15.
  std::string_view rest = text.substr(paren + 1);
  size_t state = rest.find_first_not_of(' ');
  if (state == std::string_view::npos) return Status::corruption("/proc/PID/stat: truncated");
  auto n = numbers(rest.substr(state + 1));
  if (n.size() < 13) return Status::corruption("/proc/PID/stat: truncated");
  return n[10] + n[11];
}

Result<int64_t> parse_status_rss(std::string_view text) {
  auto rss = kib_field(text, "VmRSS:");
  if (!rss) return Status::corruption("/proc/PID/status: no VmRSS");
  return *rss;
}

Result<HostCounters> read_host_counters() {
  HostCounters c;
  auto cpu = parse_proc_stat(read_all("/proc/stat"));
  if (!cpu.ok()) return cpu.status();
  c.cpu_busy_ticks = cpu->busy;
  c.cpu_total_ticks = cpu->total;
  auto mem = parse_meminfo(read_all("/proc/meminfo"));
  if (!mem.ok()) return mem.status();
  c.memory_total_bytes = mem->first;
  c.memory_available_bytes = mem->second;
  auto self = parse_pid_stat_cpu(read_all("/proc/self/stat"));
  if (!self.ok()) return self.status();
  c.agent_cpu_ticks = *self;
  auto rss = parse_status_rss(read_all("/proc/self/status"));
  if (!rss.ok()) return rss.status();
  c.agent_rss_bytes = *rss;
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  c.cores = cores > 0 ? static_cast<int>(cores) : 1;
  return c;
}

UsagePoint HostUsage::point() const {
  UsagePoint p;
  p.ms = sampled_ms;
  p.cpu_millis = cpu_millis;
  p.cpu_percent = cpu_percent;
  p.memory_bytes = memory_used_bytes;
  p.rss_bytes = agent_rss_bytes;
  return p;
}

HostUsage HostMeter::sample(const HostCounters& c, int64_t now_ms, int64_t wall_ms) {
  HostUsage u;
  u.sampled_ms = wall_ms;
  u.cores = c.cores;
  u.memory_total_bytes = c.memory_total_bytes;
  u.memory_used_bytes = c.memory_total_bytes - c.memory_available_bytes;
  u.agent_rss_bytes = c.agent_rss_bytes;
  if (prev_ && now_ms > prev_ms_) {
    const int64_t total = c.cpu_total_ticks - prev_->cpu_total_ticks;
    const int64_t busy = c.cpu_busy_ticks - prev_->cpu_busy_ticks;
    if (total > 0 && busy >= 0) {
      // Ticks of all cores over the window: the share busy, times the cores.
      u.cpu_percent = 100.0 * static_cast<double>(busy) / static_cast<double>(total);
      u.cpu_millis = u.cpu_percent * 10.0 * c.cores;
    }
    const int64_t agent = c.agent_cpu_ticks - prev_->agent_cpu_ticks;
    if (agent >= 0 && hz_ > 0) {
      u.agent_cpu_millis = 1e6 * static_cast<double>(agent) / static_cast<double>(hz_) /
                           static_cast<double>(now_ms - prev_ms_);
    }
  }
  prev_ = c;
  prev_ms_ = now_ms;
  last_ = u;
  return u;
}

}  // namespace shoal::node::supervisor
