// node/supervisor/health_prober.h
//
// The IO half of health checks (the rule is health_core.h): runs one probe of an instance
// and says whether it passed and why.
//  - http: GET http://127.0.0.1:PORT{path}; 2xx and 3xx pass.
//  - tcp: a connect to 127.0.0.1:PORT that completes passes.
//  - command: `/bin/sh -c COMMAND` in the instance's release directory, as its uid, with
//    only its env; exit status 0 passes. Its process group is killed past the timeout.
// Each probe is bounded by the check's timeout (plus a little for a command's output).
//
// HealthProber runs probes on a few worker threads of its own, never on the caller's (the
// supervisor's loop must not block on an app). submit() is thread-safe; `done` runs on a
// worker thread. The destructor cancels running commands, drops queued probes (their
// `done` never runs) and joins the workers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "node/supervisor/assignment.h"

namespace shoal::node::supervisor {

struct ProbeTarget {
  HealthSpec check;
  int port = 0;
  std::string dir;                         // command: the working directory
  std::map<std::string, std::string> env;  // command: the whole environment
  int uid = -1;                            // command: >= 0 runs as this uid = gid
};

struct ProbeResult {
  bool pass = false;
  std::string output;  // one line, at most kProbeOutputMax bytes: "HTTP 200", "exit status 1: ..."
};

inline constexpr size_t kProbeOutputMax = 200;

// Blocking; `cancel` (may be null) stops a running command.
ProbeResult run_probe(const ProbeTarget& target, const std::atomic<bool>* cancel = nullptr);

class HealthProber {
 public:
  explicit HealthProber(int threads = 4);
  ~HealthProber();
  HealthProber(const HealthProber&) = delete;
  HealthProber& operator=(const HealthProber&) = delete;

  void submit(ProbeTarget target, std::function<void(ProbeResult)> done);

 private:
  void work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<ProbeTarget, std::function<void(ProbeResult)>>> queue_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace shoal::node::supervisor
