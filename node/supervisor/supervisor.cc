#include "node/supervisor/supervisor.h"

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <leveldb/write_batch.h>
#include <spdlog/spdlog.h>

#include "node/supervisor/shim.h"
#include "node/supervisor/supervisor_impl.h"

namespace shoal::node::supervisor {
using nlohmann::json;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void Supervisor::Impl::apply(CoreActions&& a) {
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

void Supervisor::Impl::notify(const CoreActions& a) {
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

void Supervisor::Impl::arm_timer(TimePoint wake) {
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

void Supervisor::Impl::seal() {
  if (!dropping()) return;
  std::set<std::string> open = {root.filename().string()};
  if (releases.parent_path() == opt.data_dir) open.insert(releases.filename().string());
  // Sealing the build dir would take the way to its build away from a build that outlived
  // the next instance start or usage sample.
  if (!opt.build_dir.empty() && opt.build_dir.parent_path() == opt.data_dir) {
    open.insert(opt.build_dir.filename().string());
  }
  auto sealed = seal_data_dir(opt.data_dir, open);
  if (!sealed.ok()) {
    spdlog::warn("data-dir-seal-failed dir={} reason=\"{}\"", opt.data_dir.string(),
                 sealed.status().message());
  } else if (!sealed->empty()) {
    spdlog::info("data-dir-sealed dir={} entries={}", opt.data_dir.string(),
                 fmt::format("{}", fmt::join(*sealed, ",")));
  }
}

void Supervisor::Impl::do_prepare(const InstanceKey& k) {
  InstanceRecord* r = core.find(k);
  if (r == nullptr) return;
  const InstanceSpec spec = r->spec;
  const std::string app = k.first;
  const int uid = dropping() ? app_uid(app) : -1;
  spdlog::info("instance-prepare app={} instance={} release={}", app, spec.id, spec.release);
  spawn_worker([this, k, spec, app, uid](const std::atomic<bool>&) {
    // RELEASES/APP exists with its final mode before the release is unpacked into it, so no
    // other app ever sees it open; and again after, in case a GC pass removed and prepare
    // re-created it meanwhile.
    const fs::path app_releases = releases / app;
    auto close_releases = [&] {
      if (uid < 0) return Status();
      SHOAL_RETURN_IF_ERROR(make_dir(releases, kTraverseDirMode));
      return make_dir(app_releases, kAppDirMode, 0, uid);
    };
    Result<std::string> dir = Status::failed_precondition("no release preparer configured");
    if (Status s = close_releases(); !s.ok()) {
      dir = s.with_context("the app's releases directory");
    } else if (opt.prepare) {
      auto got = opt.prepare(app, spec.release, spec.digest, spec.artifact_peers);
      if (got.ok()) {
        dir = got->string();
        if (got->parent_path() != app_releases) {
          spdlog::debug("release-dir-elsewhere app={} dir={} note=\"not under {}: its modes "
                        "are the preparer's\"", app, got->string(), app_releases.string());
        } else if (Status s = close_releases(); !s.ok()) {
          dir = s.with_context("the app's releases directory");
        }
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

void Supervisor::Impl::persist(const std::set<std::string>& apps) {
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

Status Supervisor::Impl::load_and_adopt() {
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
      dead.emplace_back(k, exit_reason(k, instance_dir(k)));
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
  s.releases = s.opt.releases_dir.empty() ? s.opt.data_dir / "releases" : s.opt.releases_dir;
  std::error_code ec;
  fs::create_directories(s.opt.data_dir, ec);
  if (ec) return Status::io_error("cannot create " + s.opt.data_dir.string() + ": " + ec.message());
  // Apps' uids must get through these to their homes and releases, and must list none of
  // them; without them, nobody but us needs in at all.
  const mode_t through = s.dropping() ? kTraverseDirMode : kPrivateDirMode;
  if (s.dropping()) {
    if (::chmod(s.opt.data_dir.c_str(), kTraverseDirMode) != 0) {
      return Status::io_error("cannot chmod " + s.opt.data_dir.string() + ": " + std::strerror(errno));
    }
    fs::create_directories(s.releases.parent_path(), ec);
    SHOAL_RETURN_IF_ERROR(make_dir(s.releases, kTraverseDirMode));
  }
  SHOAL_RETURN_IF_ERROR(make_dir(s.root, through));
  SHOAL_RETURN_IF_ERROR(make_dir(s.instances, through));
  // LevelDB makes its files 0644: the directory keeps the assignments (config vars) root's.
  SHOAL_RETURN_IF_ERROR(make_dir(s.root / "db", kPrivateDirMode));
  // The data dir is open to traversal now: everything in it but the two trees above goes
  // back to root only.
  s.seal();
  leveldb::Options o;
  o.create_if_missing = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status ls = leveldb::DB::Open(o, (s.root / "db").string(), &raw);
  if (!ls.ok()) return Status::io_error("supervisor db: " + ls.ToString());
  s.db.reset(raw);

  s.guard.emplace(s.io.get_executor());
  s.timer = std::make_unique<asio::steady_timer>(s.io);
  s.sample_timer = std::make_unique<asio::steady_timer>(s.io);
  s.loop = std::thread([&s] { s.io.run(); });
  auto loaded = s.call<std::optional<Status>>(
      [&s] { return std::optional<Status>(s.load_and_adopt()); });
  std::unique_ptr<Supervisor> sup(new Supervisor(std::move(impl)));
  if (!loaded.ok()) return loaded.status();
  if (!(*loaded)->ok()) return **loaded;
  asio::post(s.io, [&s] { s.arm_sampler(); });
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
      s.sample_timer.reset();
      closed.set_value();
    });
    done.wait_for(Impl::kCallTimeout);
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
    auto actions = s.core.assign(assignment, steady_now(), Impl::wall_ms());
    if (!actions.ok()) {
      spdlog::warn("assign-refused app={} group={} term={} reason=\"{}\"", assignment.app,
                   assignment.group, assignment.term, actions.status().message());
      return actions.status();
    }
    s.apply(std::move(*actions));
    AssignReport report{s.opt.node_name, s.core.report(assignment.app)};
    s.attach_usage(assignment.app, report.instances);
    return report;
  });
  if (!r.ok()) return r.status();
  return std::move(*r);
}

std::vector<InstanceStatus> Supervisor::report(const std::string& app) {
  Impl& s = *impl_;
  auto r = s.call<std::vector<InstanceStatus>>([&s, app] {
    auto list = s.core.report(app);
    s.attach_usage(app, list);
    return list;
  });
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
      s.apply(s.core.drop_app(app, steady_now(), Impl::wall_ms()));
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
    if (s.background >= Impl::kMaxBackground) {
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

Result<NodeUsageReport> Supervisor::usage_report(const UsageQuery& q) {
  Impl& s = *impl_;
  return s.call<NodeUsageReport>([&s, q] { return s.usage_report(q); });
}

std::vector<MetricsTarget> Supervisor::metrics_targets() {
  Impl& s = *impl_;
  auto r = s.call<std::vector<MetricsTarget>>([&s] {
    std::vector<MetricsTarget> out;
    for (const auto& app : s.core.apps()) {
      for (const InstanceRecord* rec : s.core.records(app)) {
        if (rec->state != InstanceState::running || !rec->running || rec->port <= 0) continue;
        if (rec->running->metrics_path.empty()) continue;
        out.push_back({app, rec->spec.id, rec->running->release, rec->port,
                       rec->running->metrics_path});
      }
    }
    return out;
  });
  return r.ok() ? std::move(*r) : std::vector<MetricsTarget>{};
}

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
