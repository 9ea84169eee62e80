#include "node/apps/manifest.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "node/apps/json_fields.h"
#include "node/apps/names.h"
#include "node/duration_text.h"

namespace shoal::node::apps {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxProcfileBytes = 64 << 10;
constexpr size_t kMaxTomlBytes = 256 << 10;
constexpr size_t kMaxProcessTypes = 64;
constexpr size_t kMaxPackages = 256;
constexpr int64_t kMinMemoryMb = 16, kMaxMemoryMb = 1 << 20;
constexpr int64_t kMinCpuMillis = 10, kMaxCpuMillis = 1024000;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

Status bad(std::string_view msg) { return Status::invalid_argument(msg); }

Status check_limits(const Limits& l, std::string_view where) {
  if (l.memory_mb < kMinMemoryMb || l.memory_mb > kMaxMemoryMb) {
    return bad(fmt::format("{}memory_mb must be from {} to {}, not {}", where, kMinMemoryMb,
                           kMaxMemoryMb, l.memory_mb));
  }
  if (l.cpu_millis < kMinCpuMillis || l.cpu_millis > kMaxCpuMillis) {
    return bad(fmt::format("{}cpu_millis must be from {} to {}, not {}", where, kMinCpuMillis,
                           kMaxCpuMillis, l.cpu_millis));
  }
  return Status();
}

Status check_deploy(const DeployPolicy& d) {
  if (d.max_surge < 0 || d.max_surge > kMaxInstancesPerType || d.max_unavailable < 0 ||
      d.max_unavailable > kMaxInstancesPerType) {
    return bad(fmt::format("deploy.max_surge and deploy.max_unavailable must be from 0 to {}",
                           kMaxInstancesPerType));
  }
  if (d.max_surge == 0 && d.max_unavailable == 0) {
    return bad("deploy.max_surge and deploy.max_unavailable are both 0: a rollout could never "
               "replace an instance (make one of them at least 1)");
  }
  if (d.stop_grace_ms < kMinStopGraceMs || d.stop_grace_ms > kMaxStopGraceMs) {
    return bad(fmt::format("deploy.stop_grace must be from {}s to {}s, not {} ms",
                           kMinStopGraceMs / 1000, kMaxStopGraceMs / 1000, d.stop_grace_ms));
  }
  if (d.healthy_deadline_ms < kMinHealthyDeadlineMs ||
      d.healthy_deadline_ms > kMaxHealthyDeadlineMs) {
    return bad(fmt::format("deploy.healthy_deadline must be from {}s to {}s, not {} ms",
                           kMinHealthyDeadlineMs / 1000, kMaxHealthyDeadlineMs / 1000,
                           d.healthy_deadline_ms));
  }
  return Status();
}

Status check_health(const HealthCheck& h, const Manifest& m) {
  if (h.type != "http" && h.type != "tcp" && h.type != "command") {
    return bad("health.type must be http, tcp or command, not '" + h.type + "'");
  }
  if (!m.has_type(h.process)) {
    return bad("health.process '" + h.process + "' is not a process type of the Procfile");
  }
  if (h.type == "http" && (h.path.empty() || h.path.front() != '/')) {
    return bad("health.path must start with '/', not '" + h.path + "'");
  }
  if (h.type != "http" && h.path != "/") return bad("health.path applies to http checks only");
  if (h.type == "command" && trim(h.command).empty()) {
    return bad("health.command is needed for a command check");
  }
  if (h.type != "command" && !h.command.empty()) {
    return bad("health.command applies to command checks only");
  }
  if (h.interval_ms <= 0 || h.timeout_ms <= 0 || h.start_period_ms < 0) {
    return bad("health.interval and health.timeout must be positive, start_period not negative");
  }
  if (h.timeout_ms > h.interval_ms) {
    return bad(fmt::format("health.timeout ({} ms) is longer than health.interval ({} ms)",
                           h.timeout_ms, h.interval_ms));
  }
  if (h.healthy_threshold < 1 || h.healthy_threshold > 100 || h.unhealthy_threshold < 1 ||
      h.unhealthy_threshold > 100) {
    return bad("health thresholds must be from 1 to 100");
  }
  return Status();
}

// ---- Procfile ----

Status parse_procfile(std::string_view text, Manifest& m) {
  if (text.size() > kMaxProcfileBytes) {
    return bad(
        fmt::format("Procfile is {} bytes, over the limit of {}", text.size(), kMaxProcfileBytes));
  }
  std::map<std::string, size_t, std::less<>> first_line;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = fmt::format("Procfile line {}", line_no) + ": ";
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return bad(where + "expected 'type: command', got '" + std::string(line) + "'");
    }
    const std::string type(trim(line.substr(0, colon)));
    const std::string command(trim(line.substr(colon + 1)));
    if (Status s = validate_process_type(type); !s.ok()) return bad(where + s.message());
    if (auto it = first_line.find(type); it != first_line.end()) {
      return bad(fmt::format("{}process type '{}' is defined twice (first on line {})", where, type,
                             it->second));
    }
    if (command.empty()) return bad(where + "process type '" + type + "' has no command");
    if (command.size() > kMaxShellCommandBytes) {
      return bad(fmt::format("{}the command is over {} bytes", where, kMaxShellCommandBytes));
    }
    if (m.processes.size() == kMaxProcessTypes) {
      return bad(fmt::format("{}more than {} process types", where, kMaxProcessTypes));
    }
    first_line.emplace(type, line_no);
    m.processes.push_back({type, command});
  }
  if (m.processes.empty()) return bad("Procfile defines no process types");
  return Status();
}

// ---- shoal.toml ----

class TomlReader {
 public:
  Status error;

  void fail(std::string msg) {
    if (error.ok()) error = bad("shoal.toml: " + msg);
  }
  void unknown(std::string_view key) { fail("unknown key '" + std::string(key) + "'"); }

  std::optional<std::string> str(const toml::node& v, std::string_view key) {
    if (auto s = v.value_exact<std::string>()) return *s;
    fail("'" + std::string(key) + "' must be a string");
    return std::nullopt;
  }
  std::optional<int64_t> integer(const toml::node& v, std::string_view key, int64_t min,
                                 int64_t max) {
    auto n = v.value_exact<int64_t>();
    if (n && *n >= min && *n <= max) return *n;
    fail(fmt::format("'{}' must be an integer from {} to {}", key, min, max));
    return std::nullopt;
  }
  std::optional<int64_t> duration_ms(const toml::node& v, std::string_view key) {
    auto s = str(v, key);
    if (!s) return std::nullopt;
    auto d = parse_duration(*s);
    if (!d.ok()) {
      fail("'" + std::string(key) + "': " + d.status().message());
      return std::nullopt;
    }
    return to_millis(*d);
  }
  const toml::table* table(const toml::node& v, std::string_view key) {
    if (const toml::table* t = v.as_table()) return t;
    fail("'" + std::string(key) + "' must be a table");
    return nullptr;
  }

  // One key of [limits] or [limits.TYPE].
  void limit(std::string_view name, const toml::node& v, const std::string& key, Limits& out) {
    if (name == "memory_mb") {
      if (auto n = integer(v, key, kMinMemoryMb, kMaxMemoryMb)) out.memory_mb = *n;
    } else if (name == "cpu_millis") {
      if (auto n = integer(v, key, kMinCpuMillis, kMaxCpuMillis)) out.cpu_millis = *n;
    } else {
      unknown(key);
    }
  }

  void health(const toml::table& t, HealthCheck& h) {
    for (auto&& [k, v] : t) {
      const std::string key = "health." + std::string(k.str());
      const std::string_view name = k.str();
      if (name == "type") {
        if (auto s = str(v, key)) h.type = *s;
      } else if (name == "process") {
        if (auto s = str(v, key)) h.process = *s;
      } else if (name == "path") {
        if (auto s = str(v, key)) h.path = *s;
      } else if (name == "command") {
        if (auto s = str(v, key)) h.command = *s;
      } else if (name == "interval") {
        if (auto n = duration_ms(v, key)) h.interval_ms = *n;
      } else if (name == "timeout") {
        if (auto n = duration_ms(v, key)) h.timeout_ms = *n;
      } else if (name == "start_period") {
        if (auto n = duration_ms(v, key)) h.start_period_ms = *n;
      } else if (name == "healthy_threshold") {
        if (auto n = integer(v, key, 1, 100)) h.healthy_threshold = static_cast<int>(*n);
      } else if (name == "unhealthy_threshold") {
        if (auto n = integer(v, key, 1, 100)) h.unhealthy_threshold = static_cast<int>(*n);
      } else {
        unknown(key);
      }
    }
  }

  void autoscale(const toml::table& t, const std::string& where, AutoscaleRule& r) {
    for (auto&& [k, v] : t) {
      const std::string key = where + "." + std::string(k.str());
      const std::string_view name = k.str();
      if (name == "min") {
        if (auto n = integer(v, key, 0, kMaxInstancesPerType)) r.min = static_cast<int>(*n);
      } else if (name == "max") {
        if (auto n = integer(v, key, 1, kMaxInstancesPerType)) r.max = static_cast<int>(*n);
      } else if (name == "target_cpu_percent") {
        if (auto n = integer(v, key, 1, 100)) r.target_cpu_percent = static_cast<int>(*n);
      } else if (name == "target_rps") {
        if (auto n = integer(v, key, 1, kMaxTargetRps)) r.target_rps = *n;
      } else if (name == "cooldown") {
        if (auto n = duration_ms(v, key)) r.cooldown_ms = *n;
      } else if (name == "window") {
        if (auto n = duration_ms(v, key)) r.window_ms = *n;
      } else {
        unknown(key);
      }
    }
  }

  void deploy(const toml::table& t, DeployPolicy& d) {
    for (auto&& [k, v] : t) {
      const std::string key = "deploy." + std::string(k.str());
      const std::string_view name = k.str();
      if (name == "max_surge") {
        if (auto n = integer(v, key, 0, kMaxInstancesPerType)) d.max_surge = static_cast<int>(*n);
      } else if (name == "max_unavailable") {
        if (auto n = integer(v, key, 0, kMaxInstancesPerType)) {
          d.max_unavailable = static_cast<int>(*n);
        }
      } else if (name == "stop_grace") {
        if (auto n = duration_ms(v, key)) d.stop_grace_ms = *n;
      } else if (name == "healthy_deadline") {
        if (auto n = duration_ms(v, key)) d.healthy_deadline_ms = *n;
      } else {
        unknown(key);
      }
    }
  }

  void top(const toml::table& root, Manifest& m) {
    std::map<std::string, Limits> partial_types;  // [limits.TYPE], merged after [limits]
    for (auto&& [k, v] : root) {
      const std::string key(k.str());
      if (key == "build") {
        if (auto s = str(v, key)) m.build = *s;
      } else if (key == "metrics_path") {
        if (auto s = str(v, key)) m.metrics_path = *s;
      } else if (key == "packages") {
        const toml::array* a = v.as_array();
        if (a == nullptr) {
          fail("'packages' must be a list of Debian package names");
          continue;
        }
        for (const toml::node& p : *a) {
          if (auto s = str(p, "packages")) m.packages.push_back(*s);
        }
      } else if (key == "env") {
        if (const toml::table* t = table(v, key)) {
          for (auto&& [ek, ev] : *t) {
            if (auto s = str(ev, "env." + std::string(ek.str()))) m.env[std::string(ek.str())] = *s;
          }
        }
      } else if (key == "formation") {
        if (const toml::table* t = table(v, key)) {
          for (auto&& [fk, fv] : *t) {
            if (auto n =
                    integer(fv, "formation." + std::string(fk.str()), 0, kMaxInstancesPerType)) {
              m.formation[std::string(fk.str())] = static_cast<int>(*n);
            }
          }
        }
      } else if (key == "limits") {
        const toml::table* t = table(v, key);
        if (t == nullptr) continue;
        for (auto&& [lk, lv] : *t) {
          const std::string name(lk.str());
          if (const toml::table* per_type = lv.as_table()) {
            Limits l{-1, -1};  // -1: not given, take [limits]'s
            for (auto&& [tk, tv] : *per_type) {
              limit(tk.str(), tv, "limits." + name + "." + std::string(tk.str()), l);
            }
            partial_types[name] = l;
          } else {
            limit(name, lv, "limits." + name, m.limits);
          }
        }
      } else if (key == "autoscale") {
        if (const toml::table* t = table(v, key)) {
          for (auto&& [type, rule] : *t) {
            const std::string where = "autoscale." + std::string(type.str());
            if (const toml::table* rt = table(rule, where)) autoscale(*rt, where, m.autoscale[std::string(type.str())]);
          }
        }
      } else if (key == "health") {
        HealthCheck h;
        if (const toml::table* t = table(v, key)) health(*t, h);
        m.health = h;
      } else if (key == "deploy") {
        if (const toml::table* t = table(v, key)) deploy(*t, m.deploy);
      } else {
        unknown(key);
      }
    }
    for (auto& [type, l] : partial_types) {
      if (l.memory_mb < 0) l.memory_mb = m.limits.memory_mb;
      if (l.cpu_millis < 0) l.cpu_millis = m.limits.cpu_millis;
      m.type_limits[type] = l;
    }
  }
};

Status parse_toml(std::string_view text, Manifest& m) {
  if (text.size() > kMaxTomlBytes) {
    return bad(
        fmt::format("shoal.toml is {} bytes, over the limit of {}", text.size(), kMaxTomlBytes));
  }
  toml::table root;
  try {
    root = toml::parse(text, std::string_view("shoal.toml"));
  } catch (const toml::parse_error& e) {
    return bad(fmt::format("shoal.toml line {}: {}", e.source().begin.line, e.description()));
  }
  TomlReader r;
  r.top(root, m);
  return r.error;
}

Result<std::string> read_small_file(const std::filesystem::path& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("cannot read " + path.string());
  std::string text;
  text.resize(max_bytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Status::io_error("cannot read " + path.string());
  text.resize(static_cast<size_t>(in.gcount()));
  return text;  // over max_bytes: the parser names the limit
}

// A file name as one shell word.
std::string shell_word(const std::string& name) {
  bool plain = true;
  for (char c : name) {
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                      c == '-' || c == '+');
  }
  if (plain) return name;
  std::string out = "'";
  for (char c : name) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

// ---- Manifest ----

const std::string* Manifest::command(std::string_view type) const {
  for (const auto& p : processes) {
    if (p.type == type) return &p.command;
  }
  return nullptr;
}

std::vector<std::string> Manifest::types() const {
  std::vector<std::string> out;
  for (const auto& p : processes) out.push_back(p.type);
  return out;
}

int Manifest::default_count(std::string_view type) const {
  if (auto it = formation.find(std::string(type)); it != formation.end()) return it->second;
  return type == "web" ? 1 : 0;
}

Limits Manifest::limits_for(std::string_view type) const {
  auto it = type_limits.find(std::string(type));
  return it == type_limits.end() ? limits : it->second;
}

const AutoscaleRule* Manifest::autoscale_for(std::string_view type) const {
  auto it = autoscale.find(std::string(type));
  return it == autoscale.end() ? nullptr : &it->second;
}

Status validate_manifest(const Manifest& m) {
  if (m.processes.empty()) return bad("the manifest has no process types");
  if (m.processes.size() > kMaxProcessTypes) {
    return bad(fmt::format("more than {} process types", kMaxProcessTypes));
  }
  std::set<std::string_view> seen;
  for (const auto& p : m.processes) {
    SHOAL_RETURN_IF_ERROR(validate_process_type(p.type));
    if (!seen.insert(p.type).second) return bad("process type '" + p.type + "' is defined twice");
    if (trim(p.command).empty() || p.command.size() > kMaxShellCommandBytes) {
      return bad("process type '" + p.type + "' needs a command of 1 to 4096 bytes");
    }
  }
  const std::string known = fmt::format("{}", fmt::join(m.types(), ", "));
  auto need_type = [&](std::string_view where, const std::string& type) {
    if (m.has_type(type)) return Status();
    return bad(fmt::format("{}.{}: '{}' is not a process type of the Procfile ({})", where, type,
                           type, known));
  };
  if (m.build && (trim(*m.build).empty() || m.build->size() > kMaxShellCommandBytes)) {
    return bad("build must be a command of 1 to 4096 bytes");
  }
  for (const auto& [k, v] : m.env) {
    SHOAL_RETURN_IF_ERROR(validate_config_key(k).with_context("env"));
    (void)v;
  }
  for (const auto& [type, n] : m.formation) {
    SHOAL_RETURN_IF_ERROR(need_type("formation", type));
    if (n < 0 || n > kMaxInstancesPerType) {
      return bad(fmt::format("formation.{} must be from 0 to {}", type, kMaxInstancesPerType));
    }
  }
  SHOAL_RETURN_IF_ERROR(check_limits(m.limits, "limits."));
  for (const auto& [type, l] : m.type_limits) {
    SHOAL_RETURN_IF_ERROR(need_type("limits", type));
    SHOAL_RETURN_IF_ERROR(check_limits(l, "limits." + type + "."));
  }
  if (m.packages.size() > kMaxPackages) {
    return bad(fmt::format("more than {} packages", kMaxPackages));
  }
  for (const auto& p : m.packages) SHOAL_RETURN_IF_ERROR(validate_package_name(p));
  if (m.health) SHOAL_RETURN_IF_ERROR(check_health(*m.health, m));
  for (const auto& [type, r] : m.autoscale) {
    SHOAL_RETURN_IF_ERROR(need_type("autoscale", type));
    if (r.min < 0 || r.max < 1 || r.max > kMaxInstancesPerType || r.min > r.max) {
      return bad(fmt::format("autoscale.{}: need 0 <= min <= max, 1 <= max <= {} (min {}, max {})",
                             type, kMaxInstancesPerType, r.min, r.max));
    }
    if (r.target_cpu_percent < 1 || r.target_cpu_percent > 100) {
      return bad(fmt::format("autoscale.{}.target_cpu_percent must be from 1 to 100", type));
    }
    if (r.target_rps < 0 || r.target_rps > kMaxTargetRps) {
      return bad(fmt::format("autoscale.{}.target_rps must be from 1 to {}", type, kMaxTargetRps));
    }
    if (r.target_rps > 0 && type != "web") {
      return bad(fmt::format("autoscale.{}.target_rps: only web instances get requests through "
                             "the routers",
                             type));
    }
    if (r.cooldown_ms < 1000 || r.window_ms < 1000) {
      return bad(fmt::format("autoscale.{}: cooldown and window must be at least 1s", type));
    }
  }
  SHOAL_RETURN_IF_ERROR(check_deploy(m.deploy));
  if (m.metrics_path && (m.metrics_path->empty() || m.metrics_path->front() != '/')) {
    return bad("metrics_path must start with '/', not '" + *m.metrics_path + "'");
  }
  if (m.metrics_path) {
    // It is requested as is: no blanks or control characters, and not unbounded.
    bool printable = m.metrics_path->size() <= 1024;
    for (char c : *m.metrics_path) printable = printable && c > ' ' && c < 127;
    if (!printable) {
      return bad("metrics_path must be up to 1024 printable characters without blanks");
    }
  }
  return Status();
}

Result<Manifest> parse_manifest(std::string_view procfile, std::string_view shoal_toml) {
  Manifest m;
  SHOAL_RETURN_IF_ERROR(parse_procfile(procfile, m));
  if (!shoal_toml.empty()) SHOAL_RETURN_IF_ERROR(parse_toml(shoal_toml, m));
  // Checks that span both files (a type named in shoal.toml but not in the Procfile).
  if (Status s = validate_manifest(m); !s.ok()) return s.with_context("shoal.toml");
  return m;
}

Result<Manifest> load_manifest(const std::filesystem::path& dir,
                               std::optional<Detection>* detected_out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return bad(dir.string() + " is not a directory");
  std::string toml_text;
  if (fs::exists(dir / "shoal.toml", ec)) {
    auto t = read_small_file(dir / "shoal.toml", kMaxTomlBytes);
    if (!t.ok()) return t.status();
    toml_text = std::move(*t);
    if (toml_text.empty()) toml_text = "\n";  // an empty shoal.toml is still a shoal.toml
  }
  const fs::path procfile = dir / "Procfile";
  if (fs::exists(fs::symlink_status(procfile, ec))) {
    if (!fs::is_regular_file(fs::symlink_status(procfile, ec))) {
      return bad("Procfile is not a regular file");
    }
    auto p = read_small_file(procfile, kMaxProcfileBytes);
    if (!p.ok()) return p.status();
    return parse_manifest(*p, toml_text);
  }
  // No Procfile: a kind of app we can tell (detect.h), else a single executable, runs as web.
  auto detected = detect_app(dir);
  if (!detected.ok()) return detected.status();
  if (*detected) {
    auto m = parse_manifest("web: " + (*detected)->web + "\n", toml_text);
    if (!m.ok()) return m.status();
    if (!m->build && !(*detected)->build.empty()) m->build = (*detected)->build;
    if (detected_out) *detected_out = **detected;
    return m;
  }
  std::vector<std::string> others;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name != "shoal.toml") others.push_back(name);
  }
  if (ec) return Status::io_error("cannot list " + dir.string() + ": " + ec.message());
  std::sort(others.begin(), others.end());
  const std::string prefix = "no Procfile and not a single executable: ";
  if (others.size() != 1) {
    std::string listing;
    for (size_t i = 0; i < others.size() && i < 5; ++i) listing += (i ? ", " : "") + others[i];
    if (others.size() > 5) listing += ", ...";
    return bad(prefix + fmt::format("{} holds {} files{}{}", dir.string(), others.size(),
                                    others.empty() ? "" : ": ", listing));
  }
  const fs::path file = dir / others[0];
  struct stat st {};
  if (lstat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
    return bad(prefix + "'" + others[0] + "' is not a regular executable file");
  }
  return parse_manifest("web: ./" + shell_word(others[0]) + "\n", toml_text);
}

}  // namespace shoal::node::apps
