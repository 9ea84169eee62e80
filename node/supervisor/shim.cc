#include "node/supervisor/shim.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace shoal::node::supervisor {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

constexpr size_t kMaxLine = 16 * 1024;
constexpr int kDrainMs = 300;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// temp file + rename: a reader sees the old file or the whole new one. Root's only, like
// everything the shim writes (docs/supervisor.md, "Isolation").
bool write_atomically(const fs::path& p, const std::string& data) {
  const fs::path tmp = p.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t done = 0;
  while (ok && done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = (::fsync(fd) == 0) && ok;
  ok = (::close(fd) == 0) && ok;
  return ok && std::rename(tmp.c_str(), p.c_str()) == 0;
}

void shim_log(const char* event, const std::string& detail) {
  std::fprintf(stderr, "%lld shim %s %s\n", static_cast<long long>(wall_ms()), event,
               detail.c_str());
  std::fflush(stderr);
}

// Writes timestamped lines into the rotated log file.
class LogWriter {
 public:
  LogWriter(fs::path path, int64_t max_bytes, int keep)
      : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep) {
    open();
  }
  ~LogWriter() {
    if (fd_ >= 0) ::close(fd_);
  }

  void line(const char* stream, std::string_view text) {
    std::string out = std::to_string(wall_ms());
    out += ' ';
    out += stream;
    out += ' ';
    out.append(text);
    out += '\n';
    if (size_ > 0 && size_ + static_cast<int64_t>(out.size()) > max_bytes_) rotate();
    if (fd_ < 0) return;
    size_t off = 0;
    while (off < out.size()) {
      const ssize_t n = ::write(fd_, out.data() + off, out.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // disk full: drop the line rather than block the app
      off += static_cast<size_t>(n);
    }
    size_ += static_cast<int64_t>(out.size());
  }

 private:
  void open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    struct stat st {};
    size_ = (fd_ >= 0 && ::fstat(fd_, &st) == 0) ? st.st_size : 0;
  }
  void rotate() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    for (int i = keep_; i >= 1; --i) {
      const fs::path from = i == 1 ? path_ : fs::path(path_.string() + "." + std::to_string(i - 1));
      const fs::path to = path_.string() + "." + std::to_string(i);
      std::error_code ec;
      if (fs::exists(from, ec)) fs::rename(from, to, ec);
    }
    if (keep_ <= 0) {
      std::error_code ec;
      fs::remove(path_, ec);
    }
    open();
  }

  fs::path path_;
  int64_t max_bytes_;
  int keep_;
  int fd_ = -1;
  int64_t size_ = 0;
};

// One of the app's output pipes, split into lines.
struct Stream {
  const char* name;
  int fd = -1;
  std::string partial;

  void feed(LogWriter& log) {
    char buf[8192];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        partial.append(buf, static_cast<size_t>(n));
        size_t start = 0;
        for (;;) {
          const size_t nl = partial.find('\n', start);
          if (nl == std::string::npos) break;
          log.line(name, std::string_view(partial).substr(start, nl - start));
          start = nl + 1;
        }
        partial.erase(0, start);
        while (partial.size() >= kMaxLine) {
          log.line(name, std::string_view(partial).substr(0, kMaxLine));
          partial.erase(0, kMaxLine);
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      close(log);  // EOF or error
      return;
    }
  }
  void close(LogWriter& log) {
    if (!partial.empty()) log.line(name, partial);
    partial.clear();
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

void kill_cgroups(const std::vector<std::string>& dirs) {
  for (const auto& d : dirs) {
    std::ifstream in(fs::path(d) / "cgroup.procs");
    int p = 0;
    while (in >> p) ::kill(p, SIGKILL);
  }
}

// In the forked child: async-signal-safe calls only until exec (the shim is
// single-threaded, but stay honest). Reports a failure on fd 2 (the err pipe).
[[noreturn]] void exec_app(const ShimSpec& spec, int out_w, int err_w, char* const* argv,
                           char* const* envp, const std::vector<std::string>& procs_files,
                           int max_fd) {
  auto die = [&](const char* what) {
    const char* reason = std::strerror(errno);
    (void)!::write(2, "shoal: ", 7);
    (void)!::write(2, what, std::strlen(what));
    (void)!::write(2, ": ", 2);
    (void)!::write(2, reason, std::strlen(reason));
    (void)!::write(2, "\n", 1);
    ::_exit(127);
  };
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s : {SIGPIPE, SIGHUP, SIGTERM, SIGINT}) ::signal(s, SIG_DFL);
  ::setpgid(0, 0);
  const int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(out_w, 1);
  ::dup2(err_w, 2);
  // The app gets stdin, stdout and stderr and nothing else the shim holds: above all not
  // the notify pipe to the agent (fd 3), which the shim got without close-on-exec.
  if (::close_range(3, ~0U, 0) != 0) {
    for (int fd = 3; fd < max_fd; ++fd) ::close(fd);
  }
  char pidbuf[24];
  const int len = std::snprintf(pidbuf, sizeof pidbuf, "%d", static_cast<int>(::getpid()));
  for (const auto& f : procs_files) {
    const int fd = ::open(f.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)!::write(fd, pidbuf, static_cast<size_t>(len));
      ::close(fd);
    }
  }
  if (::chdir(spec.release_dir.c_str()) != 0) die("chdir to the release directory");
  if (spec.gid >= 0) {
    if (::setgroups(0, nullptr) != 0) die("setgroups");
    if (::setgid(static_cast<gid_t>(spec.gid)) != 0) die("setgid");
  }
  if (spec.uid >= 0 && ::setuid(static_cast<uid_t>(spec.uid)) != 0) die("setuid");
  ::execve("/bin/sh", argv, envp);
  die("exec /bin/sh");
  ::_exit(127);
}

}  // namespace

json to_json(const ShimSpec& s) {
  return json{{"app", s.app},
              {"instance", s.instance},
              {"type", s.type},
              {"release_dir", s.release_dir.string()},
              {"instance_dir", s.instance_dir.string()},
              {"command", s.command},
              {"env", s.env},
              {"uid", s.uid},
              {"gid", s.gid},
              {"cgroup_dirs", s.cgroup_dirs},
              {"log_max_bytes", s.log_max_bytes},
              {"log_keep", s.log_keep}};
}

Result<ShimSpec> shim_spec_from_json(const json& j) {
  try {
    ShimSpec s;
    s.app = j.at("app").get<std::string>();
    s.instance = j.at("instance").get<std::string>();
    s.type = j.value("type", std::string());
    s.release_dir = j.at("release_dir").get<std::string>();
    s.instance_dir = j.at("instance_dir").get<std::string>();
    s.command = j.at("command").get<std::string>();
    s.env = j.at("env").get<std::map<std::string, std::string>>();
    s.uid = j.at("uid").get<int>();
    s.gid = j.at("gid").get<int>();
    s.cgroup_dirs = j.at("cgroup_dirs").get<std::vector<std::string>>();
    s.log_max_bytes = j.at("log_max_bytes").get<int64_t>();
    s.log_keep = j.at("log_keep").get<int>();
    if (s.log_max_bytes < 1024 || s.log_keep < 0 || s.log_keep > 100) {
      return Status::invalid_argument("shim spec: log_max_bytes or log_keep out of range");
    }
    return s;
  } catch (const json::exception& e) {
    return Status::invalid_argument(std::string("shim spec: ") + e.what());
  }
}

std::string ShimExit::describe() const {
  if (exit_code) return "exit status " + std::to_string(*exit_code);
  if (signal) return "killed by signal " + std::to_string(*signal);
  return message.empty() ? std::string("ended") : message;
}

json to_json(const ShimExit& e) {
  json j{{"app_pid", e.app_pid}, {"ended_ms", e.ended_ms}, {"message", e.message}};
  j["exit_code"] = e.exit_code ? json(*e.exit_code) : json(nullptr);
  j["signal"] = e.signal ? json(*e.signal) : json(nullptr);
  return j;
}

Result<ShimExit> read_shim_exit(const fs::path& instance_dir) {
  const fs::path p = instance_dir / kStatusFile;
  std::error_code ec;
  if (!fs::exists(p, ec)) return Status::not_found("no status file in " + instance_dir.string());
  json j = json::parse(slurp(p), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::corruption("status file " + p.string() + " is not JSON");
  }
  try {
    ShimExit e;
    e.app_pid = j.value("app_pid", 0);
    e.ended_ms = j.value("ended_ms", int64_t{0});
    e.message = j.value("message", std::string());
    if (j.contains("exit_code") && j["exit_code"].is_number_integer()) {
      e.exit_code = j["exit_code"].get<int>();
    }
    if (j.contains("signal") && j["signal"].is_number_integer()) e.signal = j["signal"].get<int>();
    return e;
  } catch (const json::exception& ex) {
    return Status::corruption("status file " + p.string() + ": " + ex.what());
  }
}

Result<AppPid> read_app_pid(const fs::path& instance_dir) {
  const fs::path p = instance_dir / kAppPidFile;
  json j = json::parse(slurp(p), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("pid")) {
    return Status::not_found("no app pid in " + instance_dir.string());
  }
  try {
    return AppPid{j.at("pid").get<int>(), j.value("start_time", uint64_t{0})};
  } catch (const json::exception& ex) {
    return Status::corruption(p.string() + ": " + ex.what());
  }
}

uint64_t process_start_time(int pid) {
  if (pid <= 0) return 0;
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  // "PID (COMM) STATE ..." where COMM may hold spaces and parens: parse after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 1));
  std::string state;
  in >> state;
  if (state == "Z" || state == "X") return 0;
  std::string skip;
  for (int field = 4; field < 22; ++field) in >> skip;  // fields 4..21
  uint64_t start = 0;
  in >> start;
  return start;
}

int run_shim(const fs::path& spec_path, int notify_fd) {
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  json j = json::parse(slurp(spec_path), nullptr, false);
  if (j.is_discarded()) {
    shim_log("bad-spec", spec_path.string() + " is not JSON");
    return 1;
  }
  auto spec = shim_spec_from_json(j);
  if (!spec) {
    shim_log("bad-spec", spec.status().to_string());
    return 1;
  }
  const fs::path dir = spec->instance_dir;
  auto fail = [&](const std::string& message) {
    ShimExit e;
    e.ended_ms = wall_ms();
    e.message = message;
    write_atomically(dir / kStatusFile, to_json(e).dump());
    shim_log("failed", message);
    if (notify_fd >= 0) ::close(notify_fd);
    return 1;
  };

  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGTERM, SIGINT, SIGCHLD}) sigaddset(&handled, s);
  ::sigprocmask(SIG_BLOCK, &handled, nullptr);
  const int sfd = ::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return fail(std::string("signalfd: ") + std::strerror(errno));

  int out_p[2], err_p[2];
  if (::pipe2(out_p, O_CLOEXEC) != 0 || ::pipe2(err_p, O_CLOEXEC) != 0) {
    return fail(std::string("pipe: ") + std::strerror(errno));
  }

  // Everything the child needs is built before fork.
  std::string sh = "sh", dash_c = "-c", cmd = spec->command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  std::vector<std::string> env_store;
  for (const auto& [k, v] : spec->env) env_store.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> procs_files;
  for (const auto& d : spec->cgroup_dirs) procs_files.push_back((fs::path(d) / "cgroup.procs").string());

  LogWriter log(dir / kLogFile, spec->log_max_bytes, spec->log_keep);
  const long open_max = ::sysconf(_SC_OPEN_MAX);  // for exec_app, where sysconf may not run
  const int max_fd = open_max > 0 && open_max < 65536 ? static_cast<int>(open_max) : 65536;

  const pid_t app = ::fork();
  if (app < 0) return fail(std::string("fork: ") + std::strerror(errno));
  if (app == 0) exec_app(*spec, out_p[1], err_p[1], argv, envp.data(), procs_files, max_fd);
  ::setpgid(app, app);  // also done by the child: whichever runs first
  ::close(out_p[1]);
  ::close(err_p[1]);

  const uint64_t start_time = process_start_time(app);
  write_atomically(dir / kAppPidFile, json{{"pid", app}, {"start_time", start_time}}.dump());
  if (notify_fd >= 0) {
    const std::string msg = std::to_string(app) + "\n";
    (void)!::write(notify_fd, msg.data(), msg.size());
    ::close(notify_fd);
  }
  shim_log("started", "app=" + spec->app + " instance=" + spec->instance +
                          " pid=" + std::to_string(app));

  Stream streams[2] = {{"out", out_p[0], {}}, {"err", err_p[0], {}}};
  for (auto& s : streams) ::fcntl(s.fd, F_SETFL, ::fcntl(s.fd, F_GETFL) | O_NONBLOCK);

  ShimExit exit;
  exit.app_pid = app;
  bool app_done = false;
  std::chrono::steady_clock::time_point drain_until{};
  for (;;) {
    if (app_done && streams[0].fd < 0 && streams[1].fd < 0) break;
    int timeout_ms = -1;
    if (app_done) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            drain_until - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) break;
      timeout_ms = static_cast<int>(left);
    }
    pollfd fds[3] = {{sfd, POLLIN, 0}, {streams[0].fd, POLLIN, 0}, {streams[1].fd, POLLIN, 0}};
    const int n = ::poll(fds, 3, timeout_ms);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (streams[i].fd >= 0 && (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
        streams[i].feed(log);
      }
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
          if (!app_done) ::kill(-app, static_cast<int>(si.ssi_signo));
        }
      }
      int status = 0;
      if (!app_done && ::waitpid(app, &status, WNOHANG) == app) {
        app_done = true;
        if (WIFEXITED(status)) exit.exit_code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
        exit.ended_ms = wall_ms();
        // The instance is over: nothing it started may linger (holding its port or pipes).
        ::kill(-app, SIGKILL);
        kill_cgroups(spec->cgroup_dirs);
        drain_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDrainMs);
      }
    }
  }
  for (auto& s : streams) s.close(log);
  if (!write_atomically(dir / kStatusFile, to_json(exit).dump())) {
    shim_log("status-write-failed", std::strerror(errno));
    return 1;
  }
  shim_log("exited", exit.describe());
  return 0;
}

}  // namespace shoal::node::supervisor
