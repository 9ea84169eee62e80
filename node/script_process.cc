#include "node/script_process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "node/unique_fd.h"

extern char** environ;

namespace shoal::node {
namespace {

// How long output is still read after the shell exited (a background child may hold the
// pipes open forever), and the longest single wait, so `cancel` is seen promptly.
constexpr auto kDrainGrace = std::chrono::milliseconds(200);
constexpr auto kPollSlice = std::chrono::milliseconds(100);
constexpr auto kPollSliceNoPidfd = std::chrono::milliseconds(10);

using Fd = UniqueFd;

// A close-on-exec pipe whose ends are above 2, so dup2 onto 0..2 never aliases them.
bool make_pipe(Fd& read_end, Fd& write_end) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return false;
  for (int& fd : p) {
    if (fd <= 2) {
      const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      ::close(fd);
      fd = moved;
    }
  }
  read_end = Fd(p[0]);
  write_end = Fd(p[1]);
  return read_end.open() && write_end.open();
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& env, bool inherit) {
  std::set<std::string> replaced;
  for (const auto& [k, v] : env) replaced.insert(k);
  std::vector<std::string> out;
  for (char** e = inherit ? environ : nullptr; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string_view::npos && replaced.count(std::string(entry.substr(0, eq)))) continue;
    out.emplace_back(entry);
  }
  for (const auto& [k, v] : env) {
    // A later entry of the same name wins: drop the earlier one.
    const std::string prefix = k + "=";
    out.erase(std::remove_if(out.begin(), out.end(),
                             [&](const std::string& s) { return s.rfind(prefix, 0) == 0; }),
              out.end());
    out.push_back(prefix + v);
  }
  return out;
}

// Reads what is available from `fd` into `into` (up to `max` kept); closes it at EOF.
void read_some(Fd& fd, std::string& into, size_t& total, size_t max,
               const std::function<void(std::string_view, bool)>& on_output, bool is_stderr) {
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n > 0) {
      if (on_output) on_output(std::string_view(buf, static_cast<size_t>(n)), is_stderr);
      total += static_cast<size_t>(n);
      if (into.size() < max) into.append(buf, std::min(static_cast<size_t>(n), max - into.size()));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    fd.reset();  // EOF or a read error: nothing more will come
    return;
  }
}

// SIGPIPE from writing to a script that closed its stdin is thread-directed: blocked here,
// and taken back off the thread afterwards, it never reaches the process.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_;
  sigset_t old_;
};

}  // namespace

std::string ScriptRun::describe(const ScriptLimits& limits) const {
  switch (end) {
    case End::exited: return "exit status " + std::to_string(exit_code);
    case End::signaled: return "killed by signal " + std::to_string(signal);
    case End::timed_out:
      return "timed out after " + std::to_string(to_millis(limits.timeout)) +
             " ms; its process group was killed";
    case End::cancelled: return "stopped with the agent; its process group was killed";
    case End::spawn_failed: return "cannot start /bin/sh: " + spawn_error;
  }
  return "unknown";
}

ScriptRun run_script(const std::string& script,
                     const std::vector<std::pair<std::string, std::string>>& env,
                     std::string_view stdin_data, const ScriptLimits& limits,
                     const std::atomic<bool>* cancel) {
  ScriptRun run;
  const TimePoint start = steady_now();
  SigpipeBlock sigpipe;

  Fd in_r, in_w, out_r, out_w, err_r, err_w;
  if (!make_pipe(in_r, in_w) || !make_pipe(out_r, out_w) || !make_pipe(err_r, err_w)) {
    run.spawn_error = std::string("pipe: ") + std::strerror(errno);
    return run;
  }

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // the agent's sockets stay ours
  if (!limits.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, limits.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: a timeout kills all it started
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);

  std::vector<std::string> env_store = child_environment(env, limits.inherit_environment);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  // posix_spawn cannot change the uid: setpriv does it and then execs the shell.
  std::vector<std::string> args;
  if (limits.uid >= 0) {
    args = {"/usr/bin/setpriv", "--reuid=" + std::to_string(limits.uid),
            "--regid=" + std::to_string(limits.gid >= 0 ? limits.gid : limits.uid),
            "--clear-groups", "--"};
  }
  for (const char* a : {"/bin/sh", "-c"}) args.emplace_back(a);
  args.push_back(script);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  in_r.reset();
  out_w.reset();
  err_w.reset();
  if (rc != 0) {
    run.spawn_error = std::strerror(rc);
    run.took = steady_now() - start;
    return run;
  }

  Fd pidfd(open_pidfd(pid));
  set_nonblocking(in_w.get());
  set_nonblocking(out_r.get());
  set_nonblocking(err_r.get());
  size_t written = 0;
  if (stdin_data.empty()) in_w.reset();

  const TimePoint deadline = start + limits.timeout;
  const TimePoint slow_at = start + limits.slow_after;
  bool warned_slow = false;
  bool reaped = false;
  int status = 0;
  TimePoint drain_until = kTimeNever;
  auto kill_group = [&](ScriptRun::End why) {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    reaped = true;
    run.end = why;
    in_w.reset();
    drain_until = steady_now() + kDrainGrace;
  };

  while (!reaped || out_r.open() || err_r.open()) {
    if (!reaped) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        reaped = true;
        in_w.reset();
        drain_until = steady_now() + kDrainGrace;
        if (WIFEXITED(status)) {
          run.end = ScriptRun::End::exited;
          run.exit_code = WEXITSTATUS(status);
        } else {
          run.end = ScriptRun::End::signaled;
          run.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        }
      }
    }
    if (reaped && !out_r.open() && !err_r.open()) break;  // all read: no need to wait
    const TimePoint now = steady_now();
    if (!reaped) {
      if (now >= deadline) {
        kill_group(ScriptRun::End::timed_out);
        continue;
      }
      if (cancel != nullptr && cancel->load()) {
        kill_group(ScriptRun::End::cancelled);
        continue;
      }
      if (!warned_slow && now >= slow_at) {
        warned_slow = true;
        if (limits.on_slow) limits.on_slow(now - start);
      }
    } else if (now >= drain_until) {
      break;
    }

    pollfd fds[4];
    nfds_t n = 0;
    int i_in = -1, i_out = -1, i_err = -1;
    if (in_w.open()) {
      i_in = static_cast<int>(n);
      fds[n++] = {in_w.get(), POLLOUT, 0};
    }
    if (out_r.open()) {
      i_out = static_cast<int>(n);
      fds[n++] = {out_r.get(), POLLIN, 0};
    }
    if (err_r.open()) {
      i_err = static_cast<int>(n);
      fds[n++] = {err_r.get(), POLLIN, 0};
    }
    if (!reaped && pidfd.open()) fds[n++] = {pidfd.get(), POLLIN, 0};
    TimePoint wake = reaped ? drain_until : std::min(deadline, now + kPollSlice);
    if (!reaped && !warned_slow) wake = std::min(wake, slow_at);
    if (!reaped && !pidfd.open()) wake = std::min(wake, now + kPollSliceNoPidfd);
    const auto wait_ms = std::max<int64_t>(0, to_millis(wake - now) + 1);
    const int pr = ::poll(fds, n, static_cast<int>(wait_ms));
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    if (i_in >= 0 && (fds[i_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w =
          ::write(in_w.get(), stdin_data.data() + written, stdin_data.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size()) {
        in_w.reset();  // all written, or the script does not read it (EPIPE): EOF for it
      }
    }
    if (i_out >= 0 && fds[i_out].revents != 0) {
      read_some(out_r, run.out, run.out_total, limits.stdout_max, limits.on_output, false);
    }
    if (i_err >= 0 && fds[i_err].revents != 0) {
      read_some(err_r, run.err, run.err_total, limits.stderr_max, limits.on_output, true);
    }
  }
  if (!reaped) kill_group(ScriptRun::End::cancelled);  // poll failed: do not leave it behind
  run.took = steady_now() - start;
  return run;
}

}  // namespace shoal::node
