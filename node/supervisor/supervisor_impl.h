// node/supervisor/supervisor_impl.h
//
// Supervisor::Impl, internal to the supervisor's shell, which is split in two files along
// one seam: supervisor.cc is the loop (acting on the core's actions, timers, persistence,
// re-adoption after a restart, the public API) and supervisor_instances.cc is what happens
// to one instance's processes and files (ports, shims, pidfds, cgroups, health probes,
// cleanup). Nothing else includes this header.
//
// Threads (supervisor.h): call() and spawn_worker() from any thread; every other method on
// the loop thread only, which owns the core and every descriptor.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <leveldb/db.h>

#include "node/supervisor/health_prober.h"
#include "node/supervisor/supervisor.h"
#include "node/supervisor/host_usage.h"
#include "node/supervisor/isolation.h"
#include "node/supervisor/usage_meter.h"
#include "node/supervisor/usage_report.h"
#include "node/supervisor/usage_series.h"

namespace shoal::node::supervisor {

namespace fs = std::filesystem;
namespace asio = boost::asio;

struct Supervisor::Impl {
  SupervisorOptions opt;
  CgroupHost host;
  fs::path root;       // DATA_DIR/supervisor
  fs::path instances;  // root/instances
  fs::path releases;   // opt.releases_dir, or DATA_DIR/releases
  std::unique_ptr<leveldb::DB> db;
  SupervisorCore core;
  bool as_root = false;
  int port_cursor = 0;

  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread loop;
  std::atomic<bool> stopping{false};
  std::unique_ptr<asio::steady_timer> timer;
  TimePoint timer_at = kTimeNever;

  struct Watch {
    uint64_t seq = 0;
    int shim_pid = 0;
    std::unique_ptr<asio::posix::stream_descriptor> pidfd;
    std::unique_ptr<asio::posix::stream_descriptor> notify;
    std::shared_ptr<std::array<char, 64>> buf;
    std::string got;
  };
  std::map<InstanceKey, Watch> watches;
  uint64_t next_seq = 1;

  // Resource use of each live instance's current run (docs/supervisor.md, "Resource use"):
  // sampled every opt.usage_interval, attached to reports, read for the OOM verdict.
  std::map<InstanceKey, UsageMeter> meters;
  std::unique_ptr<asio::steady_timer> sample_timer;
  // Their bounded history (usage_series.h), kept while the supervisor has the instance (a
  // crashed one's too), and the node's own, sampled at the same ticks.
  std::map<InstanceKey, UsageSeries> histories;
  HostMeter host_meter{::sysconf(_SC_CLK_TCK)};
  UsageSeries host_history;
  bool host_unreadable_said = false;

  // Declared after what its callbacks use, so it is destroyed (joined) first.
  std::unique_ptr<HealthProber> prober = std::make_unique<HealthProber>();

  std::mutex threads_mu;
  std::list<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>> workers;
  int background = 0;

  static constexpr auto kCallTimeout = std::chrono::seconds(10);
  static constexpr int kMaxBackground = 64;
  // Directories (logs) of instances no longer assigned, kept per app for `logs` after a stop.
  static constexpr size_t kKeptGoneInstances = 10;

  static int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

  explicit Impl(SupervisorOptions o) : opt(std::move(o)), core(opt.policy) {}

  // ---- called from any thread ----

  template <typename T>
  Result<T> call(std::function<T()> fn) {
    if (stopping.load()) return Status::unavailable("the supervisor is shutting down");
    auto promise = std::make_shared<std::promise<T>>();
    auto future = promise->get_future();
    asio::post(io, [promise, fn = std::move(fn)]() { promise->set_value(fn()); });
    if (future.wait_for(kCallTimeout) != std::future_status::ready) {
      return Status::timeout("the supervisor did not answer in time");
    }
    return future.get();
  }

  void spawn_worker(std::function<void(const std::atomic<bool>&)> work) {
    std::lock_guard lock(threads_mu);
    for (auto it = workers.begin(); it != workers.end();) {  // join the finished ones
      if (it->second->load()) {
        it->first.join();
        it = workers.erase(it);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    workers.emplace_back(std::thread([this, done, work = std::move(work)] {
      work(stopping);
      done->store(true);
    }), done);
  }

  // ---- loop thread only ----

  fs::path instance_dir(const InstanceKey& k) const { return instances / k.first / k.second; }

  int app_uid(const std::string& app) const {
    const Assignment* a = core.assignment(app);
    return supervisor::app_uid(a ? a->group : 0);
  }
  bool dropping() const { return as_root && opt.drop_privileges; }
  // Closes the rest of the data dir to others again (isolation.h, seal_data_dir): other
  // parts of the agent may have added entries since. Only when apps run as their own uids;
  // at open, before each start and at each usage sample.
  void seal();

  // ---- supervisor.cc: the loop's side ----
  void apply(CoreActions&& a);  // carries out the core's actions, then re-arms the timer
  void notify(const CoreActions& a);
  void arm_timer(TimePoint wake);
  void do_prepare(const InstanceKey& k);  // on a worker thread; the result comes back here
  void persist(const std::set<std::string>& apps);
  Status load_and_adopt();

  // ---- supervisor_instances.cc: an instance's processes and files ----
  Result<int> allocate_port(const InstanceKey& self);
  // Kills what may be left of an instance's earlier run: never two processes for one
  // instance.
  void kill_leftovers(const InstanceRecord& r, const fs::path& dir);
  // What the app's processes see (and a command health check with them).
  std::map<std::string, std::string> instance_env(const InstanceKey& k,
                                                  const InstanceRecord& r) const;
  // Runs the instance's check on the prober's threads; the result comes back to the loop.
  void do_probe(const InstanceKey& k, uint64_t token);
  Status do_start(const InstanceKey& k);
  void watch(const InstanceKey& k, int shim_pid, int pfd, int notify_fd);
  void read_notify(const InstanceKey& k, uint64_t seq);
  // Why the instance's run ended: the OOM killer's verdict when its cgroup counted a kill
  // during the run, else the shim's status.
  std::string exit_reason(const InstanceKey& k, const fs::path& dir);
  void on_shim_exit(const InstanceKey& k, uint64_t seq);
  void do_stop(const InstanceKey& k);
  void do_kill(const InstanceKey& k);
  void do_remove(const InstanceRecord& r);
  // Samples every live instance's cgroup, then re-arms itself.
  void sample_usage();
  void arm_sampler();
  // The last sample of each listed instance that has one, into its `usage`.
  void attach_usage(const std::string& app, std::vector<InstanceStatus>& list) const;
  void sample_host(int64_t wall);
  NodeUsageReport usage_report(const UsageQuery& q) const;
  // Bounds the disk that gone instances' logs take: the newest few stay.
  void prune_gone(const std::string& app);
};

}  // namespace shoal::node::supervisor
