// node/supervisor/host_usage.h
//
// What the node itself uses: the machine's CPU and memory, and the agent's own CPU and RSS,
// read from /proc (docs/reporting.md, "Nodes"). HostCounters is one reading of the
// cumulative counters; HostMeter turns two readings into rates, as UsageMeter does for an
// instance's cgroup.
//
// Contract: the parsers are pure and reject text they cannot read with corruption naming the
// file; read_host_counters() reads the live /proc. HostMeter is not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/status.h"
#include "node/supervisor/usage_series.h"

namespace shoal::node::supervisor {

struct HostCounters {
  int64_t cpu_busy_ticks = 0;   // every core, since boot: all but idle and iowait
  int64_t cpu_total_ticks = 0;
  int64_t memory_total_bytes = 0;
  int64_t memory_available_bytes = 0;
  int64_t agent_cpu_ticks = 0;  // this process: user + system
  int64_t agent_rss_bytes = 0;
  int cores = 1;
};

struct CpuTicks {
  int64_t busy = 0;
  int64_t total = 0;
};
// The aggregate "cpu " line of /proc/stat.
Result<CpuTicks> parse_proc_stat(std::string_view text);
// MemTotal and MemAvailable of /proc/meminfo, in bytes.
Result<std::pair<int64_t, int64_t>> parse_meminfo(std::string_view text);
// utime + stime of /proc/PID/stat (the fields after the parenthesised command).
Result<int64_t> parse_pid_stat_cpu(std::string_view text);
// VmRSS of /proc/PID/status, in bytes.
Result<int64_t> parse_status_rss(std::string_view text);

Result<HostCounters> read_host_counters();

// The node's use at a sample, and what it has.
struct HostUsage {
  int64_t sampled_ms = 0;
  int cores = 1;
  int64_t memory_total_bytes = 0;
  int64_t memory_used_bytes = 0;  // total - available
  double cpu_millis = -1;         // every core together; -1 on the first sample
  double cpu_percent = -1;        // of every core
  double agent_cpu_millis = -1;
  int64_t agent_rss_bytes = 0;
  UsagePoint point() const;  // for a UsageSeries (rss_bytes: the agent's)
};

class HostMeter {
 public:
  explicit HostMeter(int64_t ticks_per_second) : hz_(ticks_per_second) {}
  // `now_ms`: a steady clock for the rates; `wall_ms`: the report's time.
  HostUsage sample(const HostCounters& c, int64_t now_ms, int64_t wall_ms);
  const std::optional<HostUsage>& last() const { return last_; }

 private:
  int64_t hz_;
  std::optional<HostCounters> prev_;
  int64_t prev_ms_ = 0;
  std::optional<HostUsage> last_;
};

}  // namespace shoal::node::supervisor
