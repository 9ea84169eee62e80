#include "node/supervisor/health_prober.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "node/http_client.h"
#include "node/script_process.h"

namespace shoal::node::supervisor {
namespace {

// One line, bounded: what `ps` and the logs show of a probe.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.size() > kProbeOutputMax) s = s.substr(0, kProbeOutputMax - 3) + "...";
  return s;
}

ProbeResult probe_http(const ProbeTarget& t) {
  HttpExchange ex;
  ex.method = "GET";
  ex.target = t.check.path;
  ex.timeout = std::chrono::milliseconds(t.check.timeout_ms);
  auto r = http_request("127.0.0.1", t.port, ex);
  if (!r.ok()) return {false, one_line("GET " + t.check.path + ": " + r.status().message())};
  const bool pass = r->status >= 200 && r->status < 400;
  std::string out = "HTTP " + std::to_string(r->status);
  if (!pass && !r->body.empty()) out += ": " + r->body.substr(0, kProbeOutputMax);
  return {pass, one_line(out)};
}

ProbeResult probe_tcp(const ProbeTarget& t) {
  const std::string where = "connect to 127.0.0.1:" + std::to_string(t.port);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return {false, "socket: " + std::string(std::strerror(errno))};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(t.port));
  int err = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const int n = ::poll(&p, 1, static_cast<int>(t.check.timeout_ms));
      if (n == 0) {
        ::close(fd);
        return {false, where + ": timed out after " + std::to_string(t.check.timeout_ms) + " ms"};
      }
      socklen_t len = sizeof err;
      err = n < 0 ? errno : 0;
      if (n > 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
  }
  ::close(fd);
  if (err != 0) return {false, where + ": " + std::strerror(err)};
  return {true, "connected"};
}

ProbeResult probe_command(const ProbeTarget& t, const std::atomic<bool>* cancel) {
  ScriptLimits limits;
  limits.timeout = std::chrono::milliseconds(t.check.timeout_ms);
  limits.stdout_max = 1024;
  limits.stderr_max = 1024;
  limits.cwd = t.dir;
  limits.uid = t.uid;
  limits.gid = t.uid;
  limits.inherit_environment = false;
  std::vector<std::pair<std::string, std::string>> env(t.env.begin(), t.env.end());
  const ScriptRun run = run_script(t.check.command, env, "", limits, cancel);
  std::string out = run.ok() ? "exit status 0" : run.describe(limits);
  // The last line the command printed says more than its status.
  std::string said = run.err.empty() ? run.out : run.err;
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
  if (auto nl = said.rfind('\n'); nl != std::string::npos) said = said.substr(nl + 1);
  if (!said.empty()) out += ": " + said;
  return {run.ok(), one_line(out)};
}

}  // namespace

ProbeResult run_probe(const ProbeTarget& target, const std::atomic<bool>* cancel) {
  if (target.check.type == "command") return probe_command(target, cancel);
  if (target.port <= 0) return {false, "the instance has no port"};
  if (target.check.type == "tcp") return probe_tcp(target);
  return probe_http(target);
}

HealthProber::HealthProber(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { work(); });
}

HealthProber::~HealthProber() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void HealthProber::submit(ProbeTarget target, std::function<void(ProbeResult)> done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.emplace_back(std::move(target), std::move(done));
  }
  cv_.notify_one();
}

void HealthProber::work() {
  for (;;) {
    std::pair<ProbeTarget, std::function<void(ProbeResult)>> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    ProbeResult r = run_probe(job.first, &stopping_);
    if (!stopping_) job.second(std::move(r));
  }
}

}  // namespace shoal::node::supervisor
