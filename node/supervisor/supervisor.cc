#include "node/supervisor/supervisor.h"

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <random>
#include <thread>

#include <leveldb/db.h>
#include <leveldb/write_batch.h>
#include <spdlog/spdlog.h>

#include "node/supervisor/health_prober.h"
#include "node/supervisor/shim.h"

extern char** environ;

namespace shoal::node::supervisor {
namespace fs = std::filesystem;
namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr auto kCallTimeout = std::chrono::seconds(10);
constexpr int kUidBase = 61000;
constexpr int kUidRange = 4000;
constexpr int kMaxBackground = 64;
// Directories (logs) of instances no longer assigned, kept per app for `logs` after a stop.
constexpr size_t kKeptGoneInstances = 10;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool port_bindable(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status write_file(const fs::path& p, const std::string& data) {
  const fs::path tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << data;
    if (!out) return Status::io_error("cannot write " + tmp.string());
  }
  ::chmod(tmp.c_str(), 0600);  // the spec holds the app's config vars
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec) return Status::io_error("cannot rename " + tmp.string() + ": " + ec.message());
  return {};
}

// Adds o+x (traverse, not list) so an app's unprivileged uid can reach its home below.
void allow_traverse(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) == 0 && !(st.st_mode & S_IXOTH)) {
    ::chmod(p.c_str(), (st.st_mode & 07777) | S_IXOTH | S_IXGRP);
  }
}

}  // namespace

struct Supervisor::Impl {
  SupervisorOptions opt;
  CgroupHost host;
  fs::path root;       // DATA_DIR/supervisor
  fs::path instances;  // root/instances
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

  // Declared after what its callbacks use, so it is destroyed (joined) first.
  std::unique_ptr<HealthProber> prober = std::make_unique<HealthProber>();

  std::mutex threads_mu;
  std::list<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>> workers;
  int background = 0;

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
    const uint64_t group = a ? a->group : 0;
    const uint64_t seq = group >= kAppGroupBase ? group - kAppGroupBase : group;
    return kUidBase + static_cast<int>(seq % kUidRange);
  }
  bool dropping() const { return as_root && opt.drop_privileges; }

  void apply(CoreActions&& a) {
    if (stopping.load()) return;
    for (const auto& k : a.prepare) do_prepare(k);
    for (const auto& [k, token] : a.probe) do_probe(k, token);
    for (const auto& k : a.stop) do_stop(k);
    for (const auto& k : a.kill) do_kill(k);
    for (auto& r : a.remove) do_remove(r);
    std::vector<InstanceKey> failed_starts;
    std::vector<std::string> failed_why;
    for (const auto& k : a.start) {
      Status s = do_start(k);
      if (!s.ok()) {
        failed_starts.push_back(k);
        failed_why.push_back(s.message());
      }
    }
    persist(a.persist);
    notify(a);
    arm_timer(a.wake_at);
    for (size_t i = 0; i < failed_starts.size(); ++i) {
      spdlog::warn("instance-start-failed app={} instance={} reason=\"{}\"",
                   failed_starts[i].first, failed_starts[i].second, failed_why[i]);
      apply(core.exited(failed_starts[i], "cannot start: " + failed_why[i], steady_now(), wall_ms()));
    }
  }

  void notify(const CoreActions& a) {
    if (!opt.on_change) return;
    std::set<InstanceKey> seen;
    for (const auto& k : a.changed) {
      if (!seen.insert(k).second) continue;
      InstanceStatus st;
      bool found = false;
      for (const auto& s : core.report(k.first)) {
        if (s.id == k.second) {
          st = s;
          found = true;
        }
      }
      if (!found) {
        st.id = k.second;
        st.state = InstanceState::stopped;
        st.since_ms = wall_ms();
      }
      opt.on_change(k.first, st);
    }
  }

  void arm_timer(TimePoint wake) {
    if (!timer || wake == kTimeNever) return;
    if (timer_at != kTimeNever && timer_at <= wake && timer_at > steady_now()) return;
    timer_at = wake;
    const auto delay = std::max(Duration::zero(), wake - steady_now());
    timer->expires_after(delay);
    timer->async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping.load()) return;
      timer_at = kTimeNever;
      apply(core.tick(steady_now(), wall_ms()));
    });
  }

  void do_prepare(const InstanceKey& k) {
    InstanceRecord* r = core.find(k);
    if (r == nullptr) return;
    const InstanceSpec spec = r->spec;
    const std::string app = k.first;
    spdlog::info("instance-prepare app={} instance={} release={}", app, spec.id, spec.release);
    spawn_worker([this, k, spec, app](const std::atomic<bool>&) {
      Result<std::string> dir = Status::failed_precondition("no release preparer configured");
      if (opt.prepare) {
        auto got = opt.prepare(app, spec.release, spec.digest, spec.artifact_peers);
        if (got.ok()) {
          dir = got->string();
        } else {
          dir = got.status();
        }
      }
      asio::post(io, [this, k, spec, dir = std::move(dir)]() {
        if (stopping.load()) return;
        if (!dir.ok()) {
          spdlog::warn("instance-prepare-failed app={} instance={} release={} reason=\"{}\"",
                       k.first, k.second, spec.release, dir.status().message());
        }
        apply(core.prepared(k, spec.release, spec.digest, dir, steady_now(), wall_ms()));
      });
    });
  }

  Result<int> allocate_port(const InstanceKey& self) {
    std::set<int> used;
    for (const auto& app : core.apps()) {
      for (const auto* r : core.records(app)) {
        if (r->port != 0 && !(r->app == self.first && r->spec.id == self.second)) used.insert(r->port);
      }
    }
    const int span = opt.port_max - opt.port_min + 1;
    for (int i = 0; i < span; ++i) {
      const int port = opt.port_min + (port_cursor + i) % span;
      if (used.count(port) || !port_bindable(port)) continue;
      port_cursor = (port - opt.port_min + 1) % span;
      return port;
    }
    return Status::unavailable("no free port in " + std::to_string(opt.port_min) + ".." +
                               std::to_string(opt.port_max));
  }

  // Kills what may be left of an instance's earlier run: never two processes for one
  // instance.
  void kill_leftovers(const InstanceRecord& r, const fs::path& dir) {
    if (!r.cgroup_dirs.empty()) {
      std::vector<fs::path> dirs(r.cgroup_dirs.begin(), r.cgroup_dirs.end());
      Cgroup::at(dirs).kill_all();
    }
    auto app = read_app_pid(dir);
    if (app.ok() && app->pid > 0 && app->start_time != 0 &&
        process_start_time(app->pid) == app->start_time) {
      ::kill(-app->pid, SIGKILL);
      ::kill(app->pid, SIGKILL);
    }
  }

  // What the app's processes see (and a command health check with them).
  std::map<std::string, std::string> instance_env(const InstanceKey& k,
                                                  const InstanceRecord& r) const {
    const InstanceSpec& spec = r.running ? *r.running : r.spec;
    const fs::path home = instance_dir(k) / "home";
    std::map<std::string, std::string> env;
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
    for (const auto& [name, value] : spec.env) env[name] = value;
    env["PORT"] = std::to_string(r.port);
    env["SHOAL_APP"] = k.first;
    env["SHOAL_RELEASE"] = std::to_string(spec.release);
    env["SHOAL_INSTANCE"] = k.second;
    env["SHOAL_PROCESS_TYPE"] = spec.type;
    env["HOME"] = home.string();
    env["TMPDIR"] = (home / "tmp").string();
    return env;
  }

  // Runs the instance's check on the prober's threads; the result comes back to the loop.
  void do_probe(const InstanceKey& k, uint64_t token) {
    InstanceRecord* r = core.find(k);
    if (r == nullptr || !r->running || !r->running->health) return;
    ProbeTarget t;
    t.check = *r->running->health;
    t.port = r->port;
    t.dir = r->release_dir;
    t.env = instance_env(k, *r);
    t.uid = dropping() ? app_uid(k.first) : -1;
    prober->submit(std::move(t), [this, k, token](ProbeResult res) {
      asio::post(io, [this, k, token, res = std::move(res)]() mutable {
        if (stopping.load()) return;
        InstanceRecord* rec = core.find(k);
        const Health before = rec ? rec->health.state() : Health::none;
        if (!res.pass) {
          spdlog::debug("instance-health-probe app={} instance={} pass=false output=\"{}\"",
                        k.first, k.second, res.output);
        }
        const std::string output = res.output;
        CoreActions a = core.health_result(k, token, res.pass, std::move(res.output),
                                           steady_now(), wall_ms());
        rec = core.find(k);
        if (rec != nullptr && rec->health.state() != before) {
          auto log = rec->health.state() == Health::unhealthy ? spdlog::level::warn
                                                               : spdlog::level::info;
          spdlog::log(log, "instance-health app={} instance={} state={} output=\"{}\"", k.first,
                      k.second, health_name(rec->health.state()), output);
        }
        apply(std::move(a));
      });
    });
  }

  Status do_start(const InstanceKey& k) {
    InstanceRecord* r = core.find(k);
    if (r == nullptr) return {};
    const fs::path dir = instance_dir(k);
    const fs::path home = dir / "home";
    std::error_code ec;
    fs::create_directories(home / "tmp", ec);
    if (ec) return Status::io_error("cannot create " + (home / "tmp").string() + ": " + ec.message());
    const int uid = dropping() ? app_uid(k.first) : -1;
    // Traversable, not listable: the app's uid reaches its home and nothing else.
    for (const fs::path& p : {instances, instances / k.first, dir}) ::chmod(p.c_str(), 0711);
    if (dropping()) {
      for (const fs::path& p : {home, home / "tmp"}) {
        if (::chown(p.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(uid)) != 0) {
          return Status::io_error("chown " + p.string() + ": " + std::strerror(errno));
        }
      }
      ::chmod(home.c_str(), 0700);
      ::chmod((home / "tmp").c_str(), 0700);
    }
    // A port another agent on this host took meanwhile (they share the range) is replaced.
    if (r->port == 0 || !port_bindable(r->port)) {
      auto port = allocate_port(k);
      if (!port.ok()) return port.status();
      r->port = *port;
    }
    kill_leftovers(*r, dir);
    CgroupLimits limits;
    limits.memory_mb = r->spec.memory_mb;
    limits.cpu_millis = r->spec.cpu_millis;
    limits.pids = 4096;
    r->cgroup_dirs.clear();
    if (!host.empty()) {
      auto cg = Cgroup::create(host, {"shoal", opt.node_name, k.first, k.second}, limits);
      if (cg.ok()) {
        for (const auto& d : cg->dirs()) r->cgroup_dirs.push_back(d.string());
        cg->kill_all();
      } else {
        spdlog::warn("instance-cgroup-failed app={} instance={} reason=\"{}\"", k.first, k.second,
                     cg.status().message());
      }
    }
    fs::remove(dir / kStatusFile, ec);
    fs::remove(dir / kAppPidFile, ec);

    ShimSpec spec;
    spec.app = k.first;
    spec.instance = k.second;
    spec.type = r->spec.type;
    spec.release_dir = r->release_dir;
    spec.instance_dir = dir;
    spec.command = r->spec.command;
    spec.env = instance_env(k, *r);
    spec.uid = uid;
    spec.gid = uid;
    spec.cgroup_dirs = r->cgroup_dirs;
    spec.log_max_bytes = opt.log_max_bytes;
    spec.log_keep = opt.log_keep;
    SHOAL_RETURN_IF_ERROR(write_file(dir / kSpecFile, to_json(spec).dump(2)));

    int notify[2];
    if (::pipe2(notify, O_CLOEXEC) != 0) return Status::io_error(std::string("pipe: ") + std::strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    const std::string shim_log = (dir / kShimLogFile).string();
    posix_spawn_file_actions_addopen(&fa, 1, shim_log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_adddup2(&fa, notify[1], 3);
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    std::string bin = opt.shim_binary, verb = "shim", spec_flag = "--spec",
                spec_path = (dir / kSpecFile).string(), fd_flag = "--notify-fd", fd_val = "3";
    char* argv[] = {bin.data(), verb.data(), spec_flag.data(), spec_path.data(),
                    fd_flag.data(), fd_val.data(), nullptr};
    char* envp[] = {nullptr};
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, bin.c_str(), &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(notify[1]);
    if (rc != 0) {
      ::close(notify[0]);
      return Status::io_error("cannot start the shim " + bin + ": " + std::strerror(rc));
    }
    r->shim_pid = pid;
    r->shim_start_time = process_start_time(pid);
    const int pfd = pidfd_open(pid);
    if (pfd < 0) {
      ::close(notify[0]);
      ::kill(pid, SIGKILL);
      return Status::io_error(std::string("pidfd_open: ") + std::strerror(errno));
    }
    watch(k, pid, pfd, notify[0]);
    spdlog::info("instance-start app={} instance={} release={} port={} shim_pid={}", k.first,
                 k.second, r->spec.release, r->port, pid);
    return {};
  }

  void watch(const InstanceKey& k, int shim_pid, int pfd, int notify_fd) {
    Watch& w = watches[k];
    w = Watch{};
    w.seq = next_seq++;
    w.shim_pid = shim_pid;
    w.pidfd = std::make_unique<asio::posix::stream_descriptor>(io, pfd);
    const uint64_t seq = w.seq;
    w.pidfd->async_wait(asio::posix::stream_descriptor::wait_read,
                        [this, k, seq](const boost::system::error_code& ec) {
                          if (ec || stopping.load()) return;
                          on_shim_exit(k, seq);
                        });
    if (notify_fd >= 0) {
      w.notify = std::make_unique<asio::posix::stream_descriptor>(io, notify_fd);
      w.buf = std::make_shared<std::array<char, 64>>();
      read_notify(k, seq);
    }
  }

  void read_notify(const InstanceKey& k, uint64_t seq) {
    Watch& w = watches[k];
    auto buf = w.buf;
    w.notify->async_read_some(
        asio::buffer(*buf), [this, k, seq, buf](const boost::system::error_code& ec, size_t n) {
          if (stopping.load()) return;
          auto it = watches.find(k);
          if (it == watches.end() || it->second.seq != seq) return;
          Watch& w = it->second;
          if (!ec) {
            w.got.append(buf->data(), n);
            if (w.got.find('\n') == std::string::npos && w.got.size() < 32) {
              read_notify(k, seq);
              return;
            }
          }
          w.notify.reset();
          const int pid = std::atoi(w.got.c_str());
          if (pid > 0) apply(core.started(k, pid, steady_now(), wall_ms()));
        });
  }

  std::string exit_reason(const fs::path& dir) {
    auto e = read_shim_exit(dir);
    if (e.ok()) return e->describe();
    return "the shim ended without a status (" + e.status().message() + ")";
  }

  void on_shim_exit(const InstanceKey& k, uint64_t seq) {
    auto it = watches.find(k);
    if (it == watches.end() || it->second.seq != seq) return;
    int status = 0;
    ::waitpid(it->second.shim_pid, &status, WNOHANG);  // ECHILD for adopted shims: fine
    watches.erase(it);
    const fs::path dir = instance_dir(k);
    InstanceRecord* r = core.find(k);
    if (r != nullptr) kill_leftovers(*r, dir);
    const std::string why = exit_reason(dir);
    spdlog::info("instance-exit app={} instance={} reason=\"{}\"", k.first, k.second, why);
    apply(core.exited(k, why, steady_now(), wall_ms()));
  }

  void do_stop(const InstanceKey& k) {
    auto it = watches.find(k);
    spdlog::info("instance-stop app={} instance={}", k.first, k.second);
    if (it != watches.end()) ::kill(it->second.shim_pid, SIGTERM);
  }

  void do_kill(const InstanceKey& k) {
    InstanceRecord* r = core.find(k);
    spdlog::warn("instance-kill app={} instance={} reason=\"still running after the stop grace\"",
                 k.first, k.second);
    if (r != nullptr) kill_leftovers(*r, instance_dir(k));
  }

  void do_remove(const InstanceRecord& r) {
    const InstanceKey k{r.app, r.spec.id};
    watches.erase(k);
    const fs::path dir = instance_dir(k);
    kill_leftovers(r, dir);
    if (!r.cgroup_dirs.empty()) {
      std::vector<fs::path> dirs(r.cgroup_dirs.begin(), r.cgroup_dirs.end());
      Status s = Cgroup::at(dirs).remove();
      if (!s.ok()) spdlog::warn("instance-cgroup-remove-failed app={} instance={} reason=\"{}\"",
                                r.app, r.spec.id, s.message());
      // The app's, node's and shoal's directories, once empty (rmdir refuses otherwise).
      for (const auto& d : dirs) {
        fs::path up = d.parent_path();
        for (int level = 0; level < 3 && ::rmdir(up.c_str()) == 0; ++level) up = up.parent_path();
      }
    }
    std::error_code ec;
    fs::remove_all(dir / "home", ec);  // the logs stay readable, for a while
    spdlog::info("instance-removed app={} instance={}", r.app, r.spec.id);
    prune_gone(r.app);
  }

  // Bounds the disk that gone instances' logs take: the newest few stay.
  void prune_gone(const std::string& app) {
    std::vector<std::pair<fs::file_time_type, fs::path>> gone;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(instances / app, ec)) {
      if (!entry.is_directory() || core.find({app, entry.path().filename().string()})) continue;
      gone.emplace_back(fs::last_write_time(entry.path() / kLogFile, ec), entry.path());
    }
    if (gone.size() <= kKeptGoneInstances) return;
    std::sort(gone.begin(), gone.end());
    for (size_t i = 0; i + kKeptGoneInstances < gone.size(); ++i) fs::remove_all(gone[i].second, ec);
  }

  void persist(const std::set<std::string>& apps) {
    if (apps.empty() || !db) return;
    leveldb::WriteBatch batch;
    for (const auto& app : apps) {
      const Assignment* a = core.assignment(app);
      const auto recs = core.records(app);
      if (a == nullptr && recs.empty()) {
        batch.Delete("app/" + app);
        continue;
      }
      json j{{"assignment", a ? to_json(*a) : json(nullptr)}, {"records", json::array()}};
      for (const auto* r : recs) j["records"].push_back(to_json(*r));
      batch.Put("app/" + app, j.dump());
    }
    for (const auto& [group, term] : core.terms()) {
      batch.Put("term/" + std::to_string(group), std::to_string(term));
    }
    leveldb::WriteOptions wo;
    wo.sync = true;
    leveldb::Status s = db->Write(wo, &batch);
    if (!s.ok()) spdlog::error("supervisor-persist-failed reason=\"{}\"", s.ToString());
  }

  Status load_and_adopt() {
    std::vector<InstanceRecord> records;
    std::map<uint64_t, uint64_t> terms;
    std::map<std::string, Assignment> assignments;
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string key = it->key().ToString();
      const std::string value = it->value().ToString();
      if (key.rfind("term/", 0) == 0) {
        terms[std::stoull(key.substr(5))] = std::stoull(value);
        continue;
      }
      if (key.rfind("app/", 0) != 0) continue;
      json j = json::parse(value, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        return Status::corruption("supervisor db: record " + key + " is not JSON");
      }
      if (j.contains("assignment") && !j["assignment"].is_null()) {
        auto a = assignment_from_json(j["assignment"]);
        if (!a.ok()) return Status::corruption("supervisor db: " + key + ": " + a.status().message());
        assignments[a->app] = std::move(*a);
      }
      for (const auto& rj : j.value("records", json::array())) {
        auto r = instance_record_from_json(rj);
        if (!r.ok()) return r.status().with_context("supervisor db: " + key);
        records.push_back(std::move(*r));
      }
    }

    // Which recorded processes still live?
    std::vector<std::pair<InstanceKey, std::string>> dead;
    std::vector<std::pair<InstanceKey, int>> adopted;
    for (auto& r : records) {
      if (!r.alive()) continue;
      const InstanceKey k{r.app, r.spec.id};
      const bool same = r.shim_pid > 0 && r.shim_start_time != 0 &&
                        process_start_time(r.shim_pid) == r.shim_start_time;
      const int pfd = same ? pidfd_open(r.shim_pid) : -1;
      if (pfd >= 0) {
        watch(k, r.shim_pid, pfd, -1);
        auto app = read_app_pid(instance_dir(k));
        adopted.emplace_back(k, app.ok() ? app->pid : 0);
        spdlog::info("instance-adopted app={} instance={} shim_pid={}", k.first, k.second, r.shim_pid);
      } else {
        if (r.shim_pid > 0) ::waitpid(r.shim_pid, nullptr, WNOHANG);  // our zombie, if ours
        dead.emplace_back(k, exit_reason(instance_dir(k)));
      }
    }
    const TimePoint now = steady_now();
    apply(core.restore(std::move(records), std::move(terms), std::move(assignments), now, wall_ms()));
    for (const auto& [k, pid] : adopted) {
      if (pid > 0) apply(core.started(k, pid, now, wall_ms()));
    }
    for (const auto& [k, why] : dead) {
      InstanceRecord* r = core.find(k);
      if (r != nullptr) kill_leftovers(*r, instance_dir(k));
      spdlog::info("instance-exit app={} instance={} reason=\"{} (while the agent was down)\"",
                   k.first, k.second, why);
      apply(core.exited(k, why, now, wall_ms()));
    }
    return {};
  }
};

Supervisor::Supervisor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Supervisor>> Supervisor::open(SupervisorOptions options) {
  if (options.port_min <= 0 || options.port_max > 65535 || options.port_min > options.port_max) {
    return Status::invalid_argument("supervisor port range " + std::to_string(options.port_min) +
                                    ".." + std::to_string(options.port_max) + " is not valid");
  }
  if (options.node_name.empty() || options.node_name.find('/') != std::string::npos ||
      options.node_name == "." || options.node_name == "..") {
    return Status::invalid_argument("node name \"" + options.node_name +
                                    "\" cannot name a cgroup directory");
  }
  if (options.shim_binary.empty()) {
    std::error_code ec;
    options.shim_binary = fs::read_symlink("/proc/self/exe", ec).string();
    if (ec) return Status::io_error("cannot find our own executable: " + ec.message());
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl& s = *impl;
  s.as_root = ::geteuid() == 0;
  // Agents sharing a host share the port range: each starts its search at a random point,
  // so two placing at once rarely pick the same port (and a taken one is re-picked).
  s.port_cursor = static_cast<int>(std::random_device{}() %
                                   static_cast<unsigned>(s.opt.port_max - s.opt.port_min + 1));
  s.host = s.opt.cgroups ? *s.opt.cgroups : detect_cgroup_host();
  if (s.host.empty() || !s.host.missing.empty()) {
    spdlog::warn("cgroups-limited {} (instances run without those limits)", s.host.describe());
  } else {
    spdlog::info("cgroups {}", s.host.describe());
  }
  s.root = s.opt.data_dir / "supervisor";
  s.instances = s.root / "instances";
  std::error_code ec;
  fs::create_directories(s.instances, ec);
  if (ec) return Status::io_error("cannot create " + s.instances.string() + ": " + ec.message());
  if (s.dropping()) {
    for (const fs::path& p : {s.opt.data_dir, s.root}) allow_traverse(p);
  }
  leveldb::Options o;
  o.create_if_missing = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status ls = leveldb::DB::Open(o, (s.root / "db").string(), &raw);
  if (!ls.ok()) return Status::io_error("supervisor db: " + ls.ToString());
  s.db.reset(raw);

  s.guard.emplace(s.io.get_executor());
  s.timer = std::make_unique<asio::steady_timer>(s.io);
  s.loop = std::thread([&s] { s.io.run(); });
  auto loaded = s.call<std::optional<Status>>(
      [&s] { return std::optional<Status>(s.load_and_adopt()); });
  std::unique_ptr<Supervisor> sup(new Supervisor(std::move(impl)));
  if (!loaded.ok()) return loaded.status();
  if (!(*loaded)->ok()) return **loaded;
  return sup;
}

Supervisor::~Supervisor() {
  Impl& s = *impl_;
  if (s.loop.joinable()) {
    std::promise<void> closed;
    auto done = closed.get_future();
    asio::post(s.io, [&s, &closed] {
      s.stopping.store(true);
      s.watches.clear();  // closes the pidfds; the shims live on
      s.timer.reset();
      closed.set_value();
    });
    done.wait_for(kCallTimeout);
    s.stopping.store(true);
    s.prober.reset();  // joins its threads: none posts to the loop after this
    s.guard.reset();
    s.io.stop();
    s.loop.join();
  }
  s.prober.reset();
  s.stopping.store(true);
  // Joined outside the lock: a finishing worker takes it to count itself out.
  std::list<std::pair<std::thread, std::shared_ptr<std::atomic<bool>>>> workers;
  {
    std::lock_guard lock(s.threads_mu);
    workers.swap(s.workers);
  }
  for (auto& [t, done] : workers) t.join();
}

Result<AssignReport> Supervisor::assign(const Assignment& assignment) {
  Impl& s = *impl_;
  auto r = s.call<Result<AssignReport>>([&s, assignment]() -> Result<AssignReport> {
    auto actions = s.core.assign(assignment, steady_now(), wall_ms());
    if (!actions.ok()) {
      spdlog::warn("assign-refused app={} group={} term={} reason=\"{}\"", assignment.app,
                   assignment.group, assignment.term, actions.status().message());
      return actions.status();
    }
    s.apply(std::move(*actions));
    return AssignReport{s.opt.node_name, s.core.report(assignment.app)};
  });
  if (!r.ok()) return r.status();
  return std::move(*r);
}

std::vector<InstanceStatus> Supervisor::report(const std::string& app) {
  Impl& s = *impl_;
  auto r = s.call<std::vector<InstanceStatus>>([&s, app] { return s.core.report(app); });
  return r.ok() ? std::move(*r) : std::vector<InstanceStatus>{};
}

std::vector<std::string> Supervisor::apps() {
  Impl& s = *impl_;
  auto r = s.call<std::vector<std::string>>([&s] { return s.core.apps(); });
  return r.ok() ? std::move(*r) : std::vector<std::string>{};
}

Result<std::map<std::string, std::set<std::string>>> Supervisor::digests_in_use() {
  Impl& s = *impl_;
  return s.call<std::map<std::string, std::set<std::string>>>(
      [&s] { return s.core.digests_in_use(); });
}

Status Supervisor::stop_all(Duration timeout) {
  Impl& s = *impl_;
  auto r = s.call<bool>([&s] {
    for (const auto& app : s.core.apps()) {
      s.apply(s.core.drop_app(app, steady_now(), wall_ms()));
    }
    return true;
  });
  if (!r.ok()) return r.status();
  const TimePoint deadline = steady_now() + timeout;
  for (;;) {
    auto left = s.call<size_t>([&s] {
      size_t n = 0;
      for (const auto& app : s.core.apps()) n += s.core.records(app).size();
      return n;
    });
    if (!left.ok()) return left.status();
    if (*left == 0) return {};
    if (steady_now() >= deadline) {
      return Status::timeout(std::to_string(*left) + " instances still stopping");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<LogSource> Supervisor::log_sources(const std::string& app, const std::string& type,
                                               const std::string& instance) {
  std::vector<LogSource> out;
  if (!valid_app_name(app)) return out;
  const fs::path dir = impl_->instances / app;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_directory()) continue;
    const std::string id = entry.path().filename().string();
    if (!instance.empty() && id != instance) continue;
    json j = json::parse(slurp(entry.path() / kSpecFile), nullptr, false);
    std::string t = j.is_object() ? j.value("type", std::string()) : std::string();
    if (t.empty()) t = id.substr(0, id.find('.'));
    if (!type.empty() && t != type) continue;
    out.push_back(LogSource{id, t, entry.path()});
  }
  return out;
}

int Supervisor::log_keep() const { return impl_->opt.log_keep; }

Status Supervisor::run_background(std::function<void(const std::atomic<bool>&)> work) {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.threads_mu);
    if (s.background >= kMaxBackground) {
      return Status::unavailable("too many log followers; try again later");
    }
    ++s.background;
  }
  s.spawn_worker([&s, work = std::move(work)](const std::atomic<bool>& stopping) {
    work(stopping);
    std::lock_guard lock(s.threads_mu);
    --s.background;
  });
  return {};
}

const std::string& Supervisor::node_name() const { return impl_->opt.node_name; }
const CgroupHost& Supervisor::cgroups() const { return impl_->host; }

Result<CgroupUsage> Supervisor::usage(const std::string& app, const std::string& instance) {
  Impl& s = *impl_;
  auto r = s.call<Result<CgroupUsage>>([&s, app, instance]() -> Result<CgroupUsage> {
    InstanceRecord* rec = s.core.find({app, instance});
    if (rec == nullptr || rec->cgroup_dirs.empty()) {
      return Status::not_found("no cgroup for " + app + "/" + instance);
    }
    std::vector<fs::path> dirs(rec->cgroup_dirs.begin(), rec->cgroup_dirs.end());
    return Cgroup::at(dirs).usage();
  });
  if (!r.ok()) return r.status();
  return std::move(*r);
}

}  // namespace shoal::node::supervisor
