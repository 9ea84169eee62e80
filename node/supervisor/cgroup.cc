#include "node/supervisor/cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "node/supervisor/small_file.h"

namespace shoal::node::supervisor {
namespace fs = std::filesystem;
namespace {

const std::vector<std::string> kWanted = {"memory", "cpu", "pids"};

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? s.npos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

std::vector<std::string> fields(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  std::string f;
  while (in >> f) out.push_back(f);
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string_view oct = s.substr(i + 1, 3);
      if (oct.size() == 3 && oct.find_first_not_of("01234567") == std::string_view::npos) {
        out.push_back(static_cast<char>(std::stoi(std::string(oct), nullptr, 8)));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The agent's own path in a hierarchy, relative to what is mounted at `root`.
fs::path own_dir(const MountEntry& m, const std::string& self_path) {
  fs::path dir = m.mount_point;
  std::string rel = self_path;
  if (m.root != "/" && rel.rfind(m.root, 0) == 0) {
    rel = rel.substr(m.root.size());
  } else if (m.root != "/") {
    rel.clear();  // we are outside what is mounted: use the mount itself
  }
  while (!rel.empty() && rel.front() == '/') rel.erase(rel.begin());
  if (!rel.empty()) dir /= rel;
  return dir;
}

bool write_text(const fs::path& p, std::string_view text, int* err = nullptr) {
  FILE* f = std::fopen(p.c_str(), "we");
  if (f == nullptr) {
    if (err) *err = errno;
    return false;
  }
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  int e = ok ? 0 : errno;
  if (std::fclose(f) != 0 && e == 0) e = errno;
  if (err) *err = e;
  return ok && e == 0;
}

// Warn once per (file name) so a host without, say, memsw does not fill the log.
void warn_once(const std::string& what, const std::string& detail) {
  static std::mutex mu;
  static std::set<std::string> seen;
  std::lock_guard lock(mu);
  if (seen.insert(what).second) {
    spdlog::warn("cgroup-limit-skipped file={} reason=\"{}\"", what, detail);
  }
}

void set_limit(const fs::path& dir, const char* file, const std::string& value) {
  int err = 0;
  if (!write_text(dir / file, value, &err)) {
    warn_once(file, std::strerror(err));
  }
}

// The integer `text` starts with (after blanks), or -1.
int64_t leading_int(std::string_view text) {
  const size_t at = text.find_first_not_of(" \t");
  if (at == std::string_view::npos) return -1;
  int64_t v = -1;
  const auto [end, ec] = std::from_chars(text.data() + at, text.data() + text.size(), v);
  return ec == std::errc() && end != text.data() + at ? v : -1;
}

// The value of `key` in "key value" lines (memory.stat, memory.events, cpu.stat,
// memory.oom_control), or -1.
int64_t keyed(std::string_view text, std::string_view key) {
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = text.substr(at, nl - at);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      return leading_int(line.substr(key.size()));
    }
    at = nl + 1;
  }
  return -1;
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> out;
  for (const auto& line : split(text, '\n')) {
    const auto f = fields(line);
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 10 || dash == f.end() || dash - f.begin() < 6 || f.end() - dash < 4) continue;
    MountEntry m;
    m.root = unescape(f[3]);
    m.mount_point = unescape(f[4]);
    m.fstype = *(dash + 1);
    m.super_options = split(*(dash + 3), ',');
    out.push_back(std::move(m));
  }
  return out;
}

std::string CgroupHost::describe() const {
  std::string v1_names, v2_names, missing_names;
  for (const auto& [c, _] : v1) v1_names += (v1_names.empty() ? "" : ",") + c;
  for (const auto& c : v2_controllers) v2_names += (v2_names.empty() ? "" : ",") + c;
  for (const auto& c : missing) missing_names += (missing_names.empty() ? "" : ",") + c;
  return "v1=" + (v1_names.empty() ? "-" : v1_names) +
         " v2=" + (v2 ? (v2_names.empty() ? "(tracking only)" : v2_names) : std::string("-")) +
         " missing=" + (missing_names.empty() ? "-" : missing_names);
}

CgroupHost detect_from_text(std::string_view mountinfo, std::string_view proc_cgroups,
                            std::string_view self_cgroup, std::string_view v2_controllers) {
  // Controllers the kernel has enabled (/proc/cgroups: name hierarchy num enabled).
  std::set<std::string> enabled;
  for (const auto& line : split(proc_cgroups, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const auto f = fields(line);
    if (f.size() >= 4 && f[3] == "1") enabled.insert(f[0]);
  }
  // Our own place in each hierarchy (/proc/self/cgroup: ID:CONTROLLERS:PATH).
  std::map<std::string, std::string> self_v1;  // controller -> path
  std::string self_v2 = "/";
  for (const auto& line : split(self_cgroup, '\n')) {
    const size_t a = line.find(':');
    const size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    if (line.substr(0, a) == "0" && controllers.empty()) {
      self_v2 = path;
      continue;
    }
    for (const auto& c : split(controllers, ',')) self_v1[c] = path;
  }

  CgroupHost host;
  for (const auto& m : parse_mountinfo(mountinfo)) {
    if (m.fstype == "cgroup") {
      for (const auto& opt : m.super_options) {
        if (opt != "memory" && opt != "cpu" && opt != "cpuacct" && opt != "pids") continue;
        if (!enabled.empty() && !enabled.count(opt)) continue;
        if (host.v1.count(opt)) continue;  // the first mount of a hierarchy wins
        auto it = self_v1.find(opt);
        host.v1[opt] = own_dir(m, it == self_v1.end() ? "/" : it->second);
      }
    } else if (m.fstype == "cgroup2" && !host.v2) {
      host.v2 = own_dir(m, self_v2);
    }
  }
  if (host.v2) {
    for (const auto& c : fields(v2_controllers)) {
      if ((c == "memory" || c == "cpu" || c == "pids") && !host.v1.count(c)) {
        host.v2_controllers.insert(c);
      }
    }
  }
  for (const auto& c : kWanted) {
    if (!host.v1.count(c) && !host.v2_controllers.count(c)) host.missing.push_back(c);
  }
  return host;
}

CgroupHost detect_cgroup_host() {
  const std::string mountinfo = slurp("/proc/self/mountinfo");
  const std::string self = slurp("/proc/self/cgroup");
  CgroupHost pre = detect_from_text(mountinfo, slurp("/proc/cgroups"), self, "");
  std::string v2_controllers;
  if (pre.v2) v2_controllers = slurp(*pre.v2 / "cgroup.controllers");
  return detect_from_text(mountinfo, slurp("/proc/cgroups"), self, v2_controllers);
}

std::string oom_message(int64_t memory_mb) {
  return "killed: out of memory (limit " + std::to_string(memory_mb) + " MB)";
}

Result<Cgroup> Cgroup::create(const CgroupHost& host, const std::vector<std::string>& parts,
                              const CgroupLimits& limits) {
  // One directory per distinct hierarchy (cpu and cpuacct may share one).
  std::vector<std::pair<fs::path, bool>> bases;  // dir, is_v2
  for (const auto& [c, dir] : host.v1) {
    if (std::none_of(bases.begin(), bases.end(), [&](auto& b) { return b.first == dir; })) {
      bases.emplace_back(dir, false);
    }
  }
  if (host.v2) bases.emplace_back(*host.v2, true);

  std::vector<fs::path> dirs;
  std::string first_error;
  for (const auto& [base, is_v2] : bases) {
    fs::path dir = base;
    bool ok = true;
    std::string controllers;
    if (is_v2) {
      for (const auto& c : host.v2_controllers) controllers += (controllers.empty() ? "+" : " +") + c;
    }
    for (const auto& part : parts) {
      // v2: a child only gets a controller its parent delegates to it.
      if (is_v2 && !controllers.empty()) {
        int err = 0;
        if (!write_text(dir / "cgroup.subtree_control", controllers, &err)) {
          warn_once("cgroup.subtree_control", std::strerror(err));
        }
      }
      dir /= part;
      if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        if (first_error.empty()) first_error = dir.string() + ": " + std::strerror(errno);
        ok = false;
        break;
      }
    }
    if (ok) dirs.push_back(dir);
  }
  if (dirs.empty()) {
    return Status::io_error("no cgroup hierarchy can hold " +
                            (parts.empty() ? std::string("the cgroup") : parts.back()) +
                            (first_error.empty() ? "" : ": " + first_error));
  }

  for (const auto& dir : dirs) {
    const bool v2 = fs::exists(dir / "cgroup.controllers");
    if (limits.memory_mb > 0) {
      const std::string bytes = std::to_string(limits.memory_mb * 1024 * 1024);
      if (v2 && fs::exists(dir / "memory.max")) {
        set_limit(dir, "memory.max", bytes);
        if (fs::exists(dir / "memory.swap.max")) set_limit(dir, "memory.swap.max", "0");
      } else if (!v2 && fs::exists(dir / "memory.limit_in_bytes")) {
        set_limit(dir, "memory.limit_in_bytes", bytes);
        if (fs::exists(dir / "memory.memsw.limit_in_bytes")) {
          set_limit(dir, "memory.memsw.limit_in_bytes", bytes);
        }
      }
    }
    if (limits.cpu_millis > 0) {
      const int64_t period_us = 100000;
      const int64_t quota_us = std::max<int64_t>(1000, limits.cpu_millis * period_us / 1000);
      if (v2 && fs::exists(dir / "cpu.max")) {
        set_limit(dir, "cpu.max", std::to_string(quota_us) + " " + std::to_string(period_us));
      } else if (!v2 && fs::exists(dir / "cpu.cfs_quota_us")) {
        set_limit(dir, "cpu.cfs_period_us", std::to_string(period_us));
        set_limit(dir, "cpu.cfs_quota_us", std::to_string(quota_us));
      }
    }
    if (limits.pids > 0 && fs::exists(dir / "pids.max")) {
      set_limit(dir, "pids.max", std::to_string(limits.pids));
    }
  }
  return Cgroup(std::move(dirs));
}

Cgroup Cgroup::at(std::vector<fs::path> dirs) { return Cgroup(std::move(dirs)); }

Status Cgroup::add(pid_t pid) const {
  std::string errors;
  for (const auto& dir : dirs_) {
    int err = 0;
    if (!write_text(dir / "cgroup.procs", std::to_string(pid), &err)) {
      errors += (errors.empty() ? "" : "; ") + dir.string() + ": " + std::strerror(err);
    }
  }
  if (!errors.empty()) return Status::io_error("cgroup add pid " + std::to_string(pid) + ": " + errors);
  return {};
}

std::vector<pid_t> Cgroup::pids() const {
  std::vector<pid_t> out;
  if (dirs_.empty()) return out;
  std::ifstream in(dirs_.front() / "cgroup.procs");
  pid_t p = 0;
  while (in >> p) out.push_back(p);
  return out;
}

void Cgroup::kill_all() const {
  for (const auto& dir : dirs_) {
    if (fs::exists(dir / "cgroup.kill")) {  // v2, kernel 5.14+: one atomic write
      if (write_text(dir / "cgroup.kill", "1")) break;
    }
  }
  // Otherwise (and as a check): signal what is listed until the list is empty. A fork
  // racing the loop is caught on the next pass.
  for (int pass = 0; pass < 100; ++pass) {
    const auto list = pids();
    if (list.empty()) return;
    for (pid_t p : list) ::kill(p, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(pass < 10 ? 1 : 10));
  }
  spdlog::warn("cgroup-kill-incomplete dir={} left={}", dirs_.front().string(), pids().size());
}

Status Cgroup::remove() const {
  std::string errors;
  for (const auto& dir : dirs_) {
    bool gone = false;
    int err = 0;
    for (int attempt = 0; attempt < 50 && !gone; ++attempt) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) {
        gone = true;
        break;
      }
      err = errno;
      if (err != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!gone) errors += (errors.empty() ? "" : "; ") + dir.string() + ": " + std::strerror(err);
  }
  if (!errors.empty()) return Status::io_error("cgroup remove: " + errors);
  return {};
}

CgroupUsage Cgroup::usage() const {
  CgroupUsage u;
  // A file a controller doesn't have reads as absent, and absent numbers never overwrite
  // one another dir found (a hybrid host's unified dir has a cpu.stat without throttling).
  auto take = [](int64_t& field, int64_t v) {
    if (v >= 0) field = v;
  };
  std::string text;
  // Each controller lives in one of the dirs: once its files are found, the other dirs
  // are not asked for them (a failed open per file, dir and instance, every second).
  bool have_memory = false, have_cpuacct = false;
  for (const auto& dir : dirs_) {
    if (!have_memory && read_small_file(dir / "memory.usage_in_bytes", text)) {  // v1
      have_memory = true;
      take(u.memory_bytes, leading_int(text));
      if (read_small_file(dir / "memory.stat", text)) take(u.rss_bytes, keyed(text, "total_rss"));
      if (read_small_file(dir / "memory.oom_control", text)) take(u.oom_kills, keyed(text, "oom_kill"));
    } else if (!have_memory && read_small_file(dir / "memory.current", text)) {  // v2
      have_memory = true;
      take(u.memory_bytes, leading_int(text));
      if (read_small_file(dir / "memory.stat", text)) take(u.rss_bytes, keyed(text, "anon"));
      if (read_small_file(dir / "memory.events", text)) take(u.oom_kills, keyed(text, "oom_kill"));
    }
    if (read_small_file(dir / "cpu.stat", text)) {
      take(u.nr_throttled, keyed(text, "nr_throttled"));
      take(u.throttled_ns, keyed(text, "throttled_time"));  // v1: ns
      if (const int64_t usec = keyed(text, "throttled_usec"); usec >= 0) u.throttled_ns = usec * 1000;
      // v2's own CPU total; v1's is cpuacct.usage, which wins where both are read.
      if (const int64_t usec = keyed(text, "usage_usec"); usec >= 0 && u.cpu_ns < 0) {
        u.cpu_ns = usec * 1000;
      }
    }
    if (!have_cpuacct && read_small_file(dir / "cpuacct.usage", text)) {
      have_cpuacct = true;
      take(u.cpu_ns, leading_int(text));
    }
  }
  return u;
}

}  // namespace shoal::node::supervisor
