// tests/support/process.h
//
// Test helpers that run real `shoal` processes on loopback:
//  - free_loopback_port(): a port free for both TCP and UDP on 127.0.0.1 right now.
//  - AgentProcess: `SHOAL_BINARY agent` on free loopback ports (gossip + HTTP) with its own
//    temporary directory (data dir + log file), health-checked over GET /v1/health, stopped
//    by pid with SIGTERM or SIGKILL, restartable on the same ports and data dir.
//  - run_command(): run the binary once (e.g. a CLI verb), capture stdout, stderr, exit code.
//
// Contract:
//  - Only loopback addresses; only processes started here are signalled, by their pid.
//  - Every wait is bounded by the timeout it is given; a child still running when its
//    AgentProcess is destroyed gets SIGKILL and is reaped.
//  - Header-only (inline) so any test binary can use it without build changes. Not
//    thread-safe: one test thread drives each object.
//  - Set SHOAL_KEEP_TEST_DIRS=1 to keep the temporary directories (logs) after the test.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "node/api_client.h"
#include "node/auth/token.h"
#include "node/secure/cluster_secret.h"

extern char** environ;

namespace shoal::test {

using namespace std::chrono_literals;

#ifndef SHOAL_BINARY
#error "SHOAL_BINARY must be defined by the build (tests/CMakeLists.txt)"
#endif

inline std::string shoal_binary() { return SHOAL_BINARY; }

// Binds socket type `type` on 127.0.0.1:port (0: any); returns the fd (or -1) and the port.
inline int bind_loopback(int type, int port, int* bound_port) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (bound_port) *bound_port = ntohs(addr.sin_port);
  return fd;
}

// A port that is free on 127.0.0.1 for TCP and UDP at the time of the call. Ports handed
// out by this process are not handed out again, so agents of one test never collide.
// Ports handed out by this process, so that no two callers get the same one.
inline std::vector<int>& given_ports() {
  static std::vector<int> given;
  return given;
}

inline int free_loopback_port() {
  std::vector<int>& given = given_ports();
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port = 0;
    int tcp = bind_loopback(SOCK_STREAM, 0, &port);
    if (tcp < 0) continue;
    int udp = bind_loopback(SOCK_DGRAM, port, nullptr);
    ::close(tcp);
    if (udp < 0) continue;
    ::close(udp);
    if (std::find(given.begin(), given.end(), port) != given.end()) continue;
    given.push_back(port);
    return port;
  }
  throw std::runtime_error("no free loopback port after 200 attempts");
}

inline std::filesystem::path make_temp_dir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
  return tmpl;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts argv[0] with stdout and stderr redirected to files. Returns the pid.
inline pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& out,
                   const std::filesystem::path& err,
                   const std::vector<std::string>& extra_env = {}) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  if (err == out) {
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // `extra_env` ("NAME=value") replaces what this process has under the same name.
  auto name_of = [](const std::string& e) { return e.substr(0, e.find('=') + 1); };
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const bool replaced = std::any_of(extra_env.begin(), extra_env.end(), [&](const std::string& x) {
      return name_of(x) == name_of(entry);
    });
    if (!replaced) env_store.push_back(entry);
  }
  for (const auto& e : extra_env) env_store.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + " failed: " + std::to_string(rc));
  return pid;
}

// Waits up to `timeout` for `pid` to exit. Returns its exit code (128+signal if killed),
// or nullopt if it is still running.
inline std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
}

struct CommandResult {
  int exit_code = -1;  // -1: timed out and killed
  std::string out;
  std::string err;
};

// A program on PATH (posix_spawn does not search PATH); `name` itself if none is found, so
// the spawn error names what is missing.
inline std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::filesystem::path candidate = std::filesystem::path(dirs.substr(start, end - start)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return name;
}

// Runs argv (any program) to completion with stdout/stderr captured; killed (by pid) past
// `timeout`.
inline CommandResult run_command_argv(const std::vector<std::string>& argv,
                                      std::chrono::milliseconds timeout = 10s,
                                      const std::vector<std::string>& extra_env = {}) {
  auto dir = make_temp_dir("shoal-cmd");
  pid_t pid = spawn(argv, dir / "stdout", dir / "stderr", extra_env);
  CommandResult r;
  auto code = wait_exit(pid, timeout);
  if (!code) {
    ::kill(pid, SIGKILL);
    (void)wait_exit(pid, 5s);
  }
  r.exit_code = code.value_or(-1);
  r.out = read_file(dir / "stdout");
  r.err = read_file(dir / "stderr");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

// Runs `shoal ARGS...` to completion (bounded; killed past `timeout`).
inline CommandResult run_command(const std::vector<std::string>& args,
                                 std::chrono::milliseconds timeout = 30s,
                                 const std::vector<std::string>& extra_env = {}) {
  std::vector<std::string> argv = {shoal_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command_argv(argv, timeout, extra_env);
}

// The admin API token every cluster these tests start begins with (docs/security.md): the
// agents get it through --bootstrap-token-file, AgentProcess::client() sends it, and the
// `shoal` CLI runs here find it in SHOAL_TOKEN, set for this process and its children.
// Random per test process; the file holding it lives as long as the process.
inline const std::string& test_admin_token() {
  static const std::string token = [] {
    const auto parts = node::auth::generate_token();
    const std::string text = node::auth::token_text(parts);
    ::setenv("SHOAL_TOKEN", text.c_str(), 1);
    return text;
  }();
  return token;
}

// A file (mode 0600) holding `line`, in a temporary directory removed at process exit.
class PrivateTestFile {
 public:
  PrivateTestFile(const std::string& dir_prefix, const std::string& name, const std::string& line)
      : dir_(make_temp_dir(dir_prefix)), file_(dir_ / name) {
    std::ofstream(file_) << line << "\n";
    std::filesystem::permissions(file_, std::filesystem::perms::owner_read |
                                            std::filesystem::perms::owner_write);
  }
  ~PrivateTestFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::filesystem::path& path() const { return file_; }

 private:
  std::filesystem::path dir_;
  std::filesystem::path file_;
};

inline const std::filesystem::path& test_admin_token_file() {
  static const PrivateTestFile f("shoal-test-token", "admin-token", test_admin_token());
  return f.path();
}

// The cluster secret every agent these tests start shares (docs/security.md, "Node to
// node"), passed as --cluster-secret-file unless a test gives its own (or --insecure-rpc).
inline const std::filesystem::path& test_cluster_secret_file() {
  static const PrivateTestFile f("shoal-test-secret", "cluster-secret",
                                 node::secure::secret_text(node::secure::generate_secret()));
  return f.path();
}

class AgentProcess {
 public:
  // Starts `shoal agent --node NAME` on fresh loopback ports with `extra_args` appended
  // (e.g. {"--join", other.gossip_addr()}). Does not wait for health; see wait_healthy().
  // `test_token`: a new cluster starts with test_admin_token() and every agent gets
  // test_cluster_secret_file() (false: the agent makes its own of both, as for a user).
  static std::unique_ptr<AgentProcess> start(const std::string& name,
                                             std::vector<std::string> extra_args = {},
                                             bool test_token = true) {
    std::unique_ptr<AgentProcess> p(new AgentProcess);
    p->name_ = name;
    p->test_token_ = test_token;
    // The Raft port defaults to gossip + 1: pick a gossip port whose successor is free too.
    for (int tries = 0; tries < 100; ++tries) {
      p->gossip_port_ = free_loopback_port();
      int bound = 0;
      const int fd = p->gossip_port_ < 65535 ? bind_loopback(SOCK_STREAM, p->gossip_port_ + 1, &bound) : -1;
      const bool taken = std::find(given_ports().begin(), given_ports().end(),
                                   p->gossip_port_ + 1) != given_ports().end();
      if (fd >= 0) ::close(fd);
      if (fd >= 0 && !taken) {
        given_ports().push_back(p->gossip_port_ + 1);
        break;
      }
    }
    p->http_port_ = free_loopback_port();
    // Every agent runs a router (default 127.0.0.1:8000): each gets a port of its own.
    p->router_port_ = free_loopback_port();
    p->dir_ = make_temp_dir("shoal-agent-" + name);
    // Apps run as their own unprivileged uids and must reach their releases in the data dir.
    std::filesystem::permissions(p->dir_, std::filesystem::perms::others_exec,
                                 std::filesystem::perm_options::add);
    p->extra_args_ = std::move(extra_args);
    // The API over TLS (docs/security.md): asked for, or given an address off loopback.
    for (size_t i = 0; i < p->extra_args_.size(); ++i) {
      const auto& arg = p->extra_args_[i];
      if (arg == "--http-tls" || arg == "--http-tls-cert") p->tls_ = true;
      if (arg == "--http" && i + 1 < p->extra_args_.size()) {
        const std::string& addr = p->extra_args_[i + 1];
        p->http_host_ = addr.substr(0, addr.rfind(':'));
        p->http_port_ = std::stoi(addr.substr(addr.rfind(':') + 1));
        if (!p->http_host_.starts_with("127.")) p->tls_ = true;
      }
    }
    p->launch();
    return p;
  }

  ~AgentProcess() {
    if (running()) kill9();
    if (std::getenv("SHOAL_KEEP_TEST_DIRS") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // Starts the agent again (same name, ports, data dir) after it exited.
  void restart() {
    if (running()) throw std::logic_error("restart() of a running agent " + name_);
    launch();
  }

  // Polls GET /v1/health until it answers 200 or `timeout` passes (or the process exits).
  bool wait_healthy(std::chrono::milliseconds timeout = 15s) {
    auto client = node::ApiClient::create(http_url(), 2s);
    if (client.ok()) client->set_tls_options(trust_any());
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!running()) return false;
      if (client.ok() && client->call("GET", "/v1/health").ok()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // SIGTERM, then wait up to `timeout` for exit; returns the exit code, or nullopt (then
  // the process got SIGKILL).
  std::optional<int> terminate(std::chrono::milliseconds timeout = 20s) {
    if (!running()) return exit_code_;
    ::kill(pid_, SIGTERM);
    auto code = wait_exit(pid_, timeout);
    if (!code) {
      kill9();
      return std::nullopt;
    }
    exit_code_ = *code;
    pid_ = -1;
    return code;
  }

  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    exit_code_ = wait_exit(pid_, 10s);
    pid_ = -1;
  }

  // Waits for an exit the agent makes on its own (e.g. after POST /v1/leave).
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return exit_code_;
    auto code = wait_exit(pid_, timeout);
    if (code) {
      exit_code_ = code;
      pid_ = -1;
    }
    return code;
  }

  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return true;
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    pid_ = -1;
    return false;
  }

  // A client of this agent that sends the tests' admin token (test_admin_token()).
  node::ApiClient client(std::chrono::milliseconds timeout = 10s) const {
    auto c = *node::ApiClient::create(http_url(), timeout);
    c.set_tls_options(trust_any());
    c.set_token(test_admin_token());
    return c;
  }
  // One that sends no token: for what anyone may call, and for checking refusals.
  node::ApiClient anonymous_client(std::chrono::milliseconds timeout = 10s) const {
    auto c = *node::ApiClient::create(http_url(), timeout);
    c.set_tls_options(trust_any());
    return c;
  }
  // Over https, the harness's clients take any certificate: pinning is what the TLS tests
  // check, through the CLI.
  static std::shared_ptr<const node::TlsClientOptions> trust_any() {
    auto options = std::make_shared<node::TlsClientOptions>();
    options->accept = [](const node::TlsPeer&) { return Status(); };
    return options;
  }

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  int gossip_port() const { return gossip_port_; }
  int http_port() const { return http_port_; }
  std::string gossip_addr() const { return "127.0.0.1:" + std::to_string(gossip_port_); }
  std::string http_addr() const { return http_host_ + ":" + std::to_string(http_port_); }
  int rpc_port() const { return gossip_port_ + 1; }
  int router_port() const { return router_port_; }
  std::string router_addr() const { return "127.0.0.1:" + std::to_string(router_port_); }
  std::string http_url() const { return (tls_ ? "https://" : "http://") + http_addr(); }
  bool tls() const { return tls_; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path log_path() const { return dir_ / "agent.log"; }
  std::string log() const { return read_file(log_path()); }
  std::optional<int> exit_code() const { return exit_code_; }

 private:
  AgentProcess() = default;

  void launch() {
    std::vector<std::string> argv = {shoal_binary(), "agent", "--node", name_, "--bind",
                                     gossip_addr(), "--data-dir", data_dir().string()};
    auto has = [&](const char* flag) {
      return std::find(extra_args_.begin(), extra_args_.end(), flag) != extra_args_.end();
    };
    if (!has("--http")) argv.insert(argv.end(), {"--http", http_addr()});
    if (!has("--profile")) argv.insert(argv.end(), {"--profile", "local"});
    if (!has("--log-level")) argv.insert(argv.end(), {"--log-level", "debug"});
    if (!has("--router")) argv.insert(argv.end(), {"--router", router_addr()});
    if (test_token_ && !has("--bootstrap-token-file")) {
      argv.insert(argv.end(), {"--bootstrap-token-file", test_admin_token_file().string()});
    }
    // The same token as every agent's node-local one: it works on a node that joined serf
    // agents (no catalog, so no cluster tokens), and on one that has not received the
    // cluster's tokens yet.
    if (test_token_ && !has("--local-token-file")) {
      argv.insert(argv.end(), {"--local-token-file", test_admin_token_file().string()});
    }
    if (test_token_ && !has("--cluster-secret-file") && !has("--insecure-rpc")) {
      argv.insert(argv.end(), {"--cluster-secret-file", test_cluster_secret_file().string()});
    }
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    pid_ = spawn(argv, log_path(), log_path());
    exit_code_.reset();
  }

  std::string name_;
  int gossip_port_ = 0;
  std::string http_host_ = "127.0.0.1";
  int http_port_ = 0;
  bool tls_ = false;
  int router_port_ = 0;
  std::filesystem::path dir_;
  std::vector<std::string> extra_args_;
  bool test_token_ = true;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace shoal::test
