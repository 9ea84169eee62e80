// Supervisor::Impl, the instance side (supervisor_impl.h): ports, the shim's spawn and
// watch, stop / kill / remove, health probes.
#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "node/supervisor/shim.h"
#include "node/supervisor/supervisor_impl.h"

namespace shoal::node::supervisor {
using nlohmann::json;

namespace {

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

}  // namespace

Result<int> Supervisor::Impl::allocate_port(const InstanceKey& self) {
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

void Supervisor::Impl::kill_leftovers(const InstanceRecord& r, const fs::path& dir) {
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

std::map<std::string, std::string> Supervisor::Impl::instance_env(
    const InstanceKey& k, const InstanceRecord& r) const {
  const InstanceSpec& spec = r.running ? *r.running : r.spec;
  return instance_environment(
      InstanceIdentity{k.first, k.second, spec.type, spec.release, r.port, instance_dir(k) / "home"},
      spec.env);
}

void Supervisor::Impl::do_probe(const InstanceKey& k, uint64_t token) {
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

Status Supervisor::Impl::do_start(const InstanceKey& k) {
  InstanceRecord* r = core.find(k);
  if (r == nullptr) return {};
  const fs::path dir = instance_dir(k);
  const fs::path home = dir / "home";
  std::error_code ec;
  const int uid = dropping() ? app_uid(k.first) : -1;
  // root:APPGID 0710 down to the instance: its uid gets through to its home, another app's
  // stops at instances/APP. The files in it (spec, logs, status) are root's 0600. HOME is
  // the app's own; make_dir never follows the symlink an app may leave as HOME/tmp.
  const mode_t tree = dropping() ? kAppDirMode : kPrivateDirMode;
  SHOAL_RETURN_IF_ERROR(make_dir(instances / k.first, tree, dropping() ? 0 : -1, uid));
  SHOAL_RETURN_IF_ERROR(make_dir(dir, tree, dropping() ? 0 : -1, uid));
  SHOAL_RETURN_IF_ERROR(make_dir(home, kPrivateDirMode, uid, uid));
  SHOAL_RETURN_IF_ERROR(make_dir(home / "tmp", kPrivateDirMode, uid, uid));
  seal();
  // A port another agent on this host took meanwhile (they share the range) is replaced.
  if (r->port == 0 || !port_bindable(r->port)) {
    auto port = allocate_port(k);
    if (!port.ok()) return port.status();
    r->port = *port;
  }
  kill_leftovers(*r, dir);
  // Each run gets a fresh cgroup, so its counters (OOM kills above all) are this run's.
  if (!r->cgroup_dirs.empty()) {
    std::vector<fs::path> old(r->cgroup_dirs.begin(), r->cgroup_dirs.end());
    (void)Cgroup::at(old).remove();  // busy: reused, and the meter's baseline covers it
  }
  meters.erase(k);
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
      meters.insert_or_assign(k, UsageMeter(r->spec.cpu_millis, cg->usage()));
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
  // The spec holds the app's config vars: root's only (isolation.h).
  SHOAL_RETURN_IF_ERROR(write_private_file(dir / kSpecFile, to_json(spec).dump(2)));

  int notify[2];
  if (::pipe2(notify, O_CLOEXEC) != 0) return Status::io_error(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  const std::string shim_log = (dir / kShimLogFile).string();
  posix_spawn_file_actions_addopen(&fa, 1, shim_log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   kPrivateFileMode);
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

void Supervisor::Impl::watch(const InstanceKey& k, int shim_pid, int pfd, int notify_fd) {
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

void Supervisor::Impl::read_notify(const InstanceKey& k, uint64_t seq) {
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

std::string Supervisor::Impl::exit_reason(const InstanceKey& k, const fs::path& dir) {
  const InstanceRecord* r = core.find(k);
  if (r != nullptr && !r->cgroup_dirs.empty()) {
    std::vector<fs::path> dirs(r->cgroup_dirs.begin(), r->cgroup_dirs.end());
    const CgroupUsage u = Cgroup::at(dirs).usage();
    auto m = meters.find(k);
    // Without a meter (adopted after an agent restart) the cgroup is the run's own: do_start
    // makes a fresh one each time.
    const int64_t kills = m != meters.end() ? m->second.oom_kills_since_start(u)
                                            : std::max<int64_t>(0, u.oom_kills);
    if (kills > 0) {
      const InstanceSpec& spec = r->running ? *r->running : r->spec;
      return oom_message(spec.memory_mb);
    }
  }
  auto e = read_shim_exit(dir);
  if (e.ok()) return e->describe();
  return "the shim ended without a status (" + e.status().message() + ")";
}

void Supervisor::Impl::on_shim_exit(const InstanceKey& k, uint64_t seq) {
  auto it = watches.find(k);
  if (it == watches.end() || it->second.seq != seq) return;
  int status = 0;
  ::waitpid(it->second.shim_pid, &status, WNOHANG);  // ECHILD for adopted shims: fine
  watches.erase(it);
  const fs::path dir = instance_dir(k);
  InstanceRecord* r = core.find(k);
  if (r != nullptr) kill_leftovers(*r, dir);
  const std::string why = exit_reason(k, dir);
  meters.erase(k);
  spdlog::log(why.rfind("killed: out of memory", 0) == 0 ? spdlog::level::warn : spdlog::level::info,
              "instance-exit app={} instance={} reason=\"{}\"", k.first, k.second, why);
  apply(core.exited(k, why, steady_now(), wall_ms()));
}

void Supervisor::Impl::do_stop(const InstanceKey& k) {
  auto it = watches.find(k);
  spdlog::info("instance-stop app={} instance={}", k.first, k.second);
  if (it != watches.end()) ::kill(it->second.shim_pid, SIGTERM);
}

void Supervisor::Impl::do_kill(const InstanceKey& k) {
  InstanceRecord* r = core.find(k);
  spdlog::warn("instance-kill app={} instance={} reason=\"still running after the stop grace\"",
               k.first, k.second);
  if (r != nullptr) kill_leftovers(*r, instance_dir(k));
}

void Supervisor::Impl::do_remove(const InstanceRecord& r) {
  const InstanceKey k{r.app, r.spec.id};
  watches.erase(k);
  meters.erase(k);
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
  // The logs stay readable, for a while. The home goes without following anything in it:
  // another instance of the app, same uid, may be changing it right now.
  if (Status s = remove_tree(dir / "home"); !s.ok()) {
    spdlog::warn("instance-home-remove-failed app={} instance={} reason=\"{}\"", r.app,
                 r.spec.id, s.message());
  }
  spdlog::info("instance-removed app={} instance={}", r.app, r.spec.id);
  prune_gone(r.app);
}

void Supervisor::Impl::prune_gone(const std::string& app) {
  std::vector<std::pair<fs::file_time_type, fs::path>> gone;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(instances / app, ec)) {
    if (!entry.is_directory() || core.find({app, entry.path().filename().string()})) continue;
    gone.emplace_back(fs::last_write_time(entry.path() / kLogFile, ec), entry.path());
  }
  if (gone.size() <= kKeptGoneInstances) return;
  std::sort(gone.begin(), gone.end());
  for (size_t i = 0; i + kKeptGoneInstances < gone.size(); ++i) (void)remove_tree(gone[i].second);
}

void Supervisor::Impl::arm_sampler() {
  if (!sample_timer || stopping.load() || opt.usage_interval <= Duration::zero()) return;
  sample_timer->expires_after(opt.usage_interval);
  sample_timer->async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping.load()) return;
    sample_usage();
    arm_sampler();
  });
}

void Supervisor::Impl::sample_usage() {
  const TimePoint now = steady_now();
  const int64_t wall = wall_ms();
  for (const auto& app : core.apps()) {
    for (const InstanceRecord* r : core.records(app)) {
      const InstanceKey k{app, r->spec.id};
      if (!r->alive() || r->cgroup_dirs.empty()) continue;
      std::vector<fs::path> dirs(r->cgroup_dirs.begin(), r->cgroup_dirs.end());
      const CgroupUsage u = Cgroup::at(dirs).usage();
      auto m = meters.find(k);
      if (m == meters.end()) {  // adopted after an agent restart: its cgroup is the run's own
        m = meters.emplace(k, UsageMeter(r->running->cpu_millis, CgroupUsage{})).first;
      }
      const int64_t oom_before = m->second.last() ? m->second.last()->oom_kills : 0;
      const ResourceUsage& got = m->second.sample(u, now, wall);
      histories[k].add(UsagePoint{got.sampled_ms, static_cast<double>(got.cpu_millis),
                                  got.cpu_percent, got.memory_bytes, got.rss_bytes});
      if (got.oom_kills > oom_before) {  // a child died and the instance lives on
        spdlog::warn("instance-oom-kill app={} instance={} kills={} limit_mb={}", app,
                     r->spec.id, got.oom_kills, r->running->memory_mb);
      }
    }
  }
  // Meters of instances that are gone (a missed exit) go too; histories once the
  // supervisor forgets the instance.
  for (auto it = meters.begin(); it != meters.end();) {
    const InstanceRecord* r = core.find(it->first);
    it = r == nullptr || !r->alive() ? meters.erase(it) : std::next(it);
  }
  for (auto it = histories.begin(); it != histories.end();) {
    it = core.find(it->first) == nullptr ? histories.erase(it) : std::next(it);
  }
  sample_host(wall);
  // Files other parts of the agent add to the data dir later (a token, the cluster marker)
  // are open to apps for at most one interval, whatever mode they were created with.
  seal();
}

void Supervisor::Impl::sample_host(int64_t wall) {
  auto counters = read_host_counters();
  if (!counters.ok()) {
    // Said once: it would be the same every second.
    if (!host_unreadable_said) {
      spdlog::warn("host-usage-unreadable reason=\"{}\"", counters.status().to_string());
      host_unreadable_said = true;
    }
    return;
  }
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(steady_now().time_since_epoch())
          .count();
  host_history.add(host_meter.sample(*counters, now_ms, wall).point());
}

NodeUsageReport Supervisor::Impl::usage_report(const UsageQuery& q) const {
  auto history = [&q](const UsageSeries& s) {
    switch (q.history) {
      case UsageQuery::History::none: return std::vector<UsagePoint>{};
      case UsageQuery::History::recent: return s.recent(q.since_ms);
      case UsageQuery::History::minutes: return s.minutes(q.since_ms);
    }
    return std::vector<UsagePoint>{};
  };
  NodeUsageReport r;
  r.node = opt.node_name;
  r.host = host_meter.last();
  r.host_history = history(host_history);
  for (const auto& app : core.apps()) {
    if (!q.app.empty() && app != q.app) continue;
    std::vector<InstanceStatus> list = core.report(app);
    attach_usage(app, list);
    std::map<std::string, int64_t> releases;
    for (const InstanceRecord* rec : core.records(app)) releases[rec->spec.id] = rec->spec.release;
    for (auto& st : list) {
      InstanceUsage iu;
      iu.app = app;
      iu.release = releases[st.id];
      if (auto h = histories.find({app, st.id}); q.instance_history && h != histories.end()) {
        iu.history = history(h->second);
      }
      iu.status = std::move(st);
      r.instances.push_back(std::move(iu));
    }
  }
  return r;
}

void Supervisor::Impl::attach_usage(const std::string& app, std::vector<InstanceStatus>& list) const {
  for (auto& st : list) {
    auto m = meters.find({app, st.id});
    if (m != meters.end() && m->second.last()) st.usage = *m->second.last();
  }
}

}  // namespace shoal::node::supervisor
