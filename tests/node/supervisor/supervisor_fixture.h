// tests/node/supervisor/supervisor_fixture.h
//
// A Supervisor over a temp data dir with real shims of the `shoal` binary, for the process
// tests (supervisor_process_test.cc, health_process_test.cc). Release directory: a temp dir.
#pragma once

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <thread>

#include "node/supervisor/instance_logs.h"
#include "node/supervisor/shim.h"
#include "node/supervisor/supervisor.h"
#include "tests/support/process.h"

namespace shoal::test::supervisor_fixture {

using namespace shoal::node::supervisor;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr uint64_t kGroup = kAppGroupBase + 3;

inline bool alive(int pid) {
  return pid > 0 && process_start_time(pid) != 0;  // not gone, not a zombie
}

struct Fixture {
  fs::path data_dir = shoal::test::make_temp_dir("shoal-sup");
  fs::path release_dir = shoal::test::make_temp_dir("shoal-rel");
  std::string node = "n" + std::to_string(::getpid()) + "-" + std::to_string(counter()++);
  int port_min = shoal::test::free_loopback_port();
  std::unique_ptr<Supervisor> sup;
  std::vector<std::pair<std::string, InstanceStatus>> changes;
  std::mutex changes_mu;

  static int& counter() {
    static int n = 0;
    return n;
  }

  Fixture() {
    ::chmod(release_dir.c_str(), 0755);
    open();
  }
  ~Fixture() {
    if (sup) (void)sup->stop_all(10s);
    sup.reset();
    if (!std::getenv("SHOAL_KEEP_TEST_DIRS")) {
      std::error_code ec;
      fs::remove_all(data_dir, ec);
      fs::remove_all(release_dir, ec);
    }
  }

  SupervisorOptions options(Duration reassert_grace = 60s) {
    SupervisorOptions o;
    o.node_name = node;
    o.data_dir = data_dir;
    o.shim_binary = shoal::test::shoal_binary();
    o.port_min = port_min;
    o.port_max = port_min + 200;
    o.policy.backoff_base = 100ms;
    o.policy.stop_grace = 2s;
    o.policy.reassert_grace = reassert_grace;
    const std::string rel = release_dir.string();
    o.prepare = [rel](const std::string&, int64_t, const std::string&,
                      const std::vector<std::string>&) -> Result<fs::path> { return fs::path(rel); };
    o.on_change = [this](const std::string& app, const InstanceStatus& s) {
      std::lock_guard lock(changes_mu);
      changes.emplace_back(app, s);
    };
    return o;
  }

  void open(Duration reassert_grace = 60s, int64_t log_max_bytes = 10 * 1024 * 1024) {
    auto o = options(reassert_grace);
    o.log_max_bytes = log_max_bytes;
    auto s = Supervisor::open(std::move(o));
    REQUIRE(s.ok());
    sup = std::move(*s);
  }

  static InstanceSpec spec(const std::string& id, const std::string& command, int64_t generation = 0) {
    InstanceSpec s;
    s.id = id;
    s.type = id.substr(0, id.find('.'));
    s.release = 1;
    s.digest = "abc";
    s.command = command;
    s.env = {{"GREETING", "hi"}};
    s.memory_mb = 128;
    s.cpu_millis = 500;
    s.generation = generation;
    return s;
  }

  Result<AssignReport> assign(uint64_t term, std::vector<InstanceSpec> instances) {
    Assignment a;
    a.app = "hello";
    a.group = kGroup;
    a.term = term;
    a.leader = "node-a";
    a.instances = std::move(instances);
    return sup->assign(a);
  }

  std::optional<InstanceStatus> status(const std::string& id) {
    for (auto& s : sup->report("hello")) {
      if (s.id == id) return s;
    }
    return std::nullopt;
  }

  // Polls (every 2 ms, at most `timeout`) until `pred` holds for the instance's status.
  template <typename Pred>
  std::optional<InstanceStatus> wait_for(const std::string& id, Pred pred, Duration timeout = 5s) {
    const auto deadline = steady_now() + timeout;
    while (steady_now() < deadline) {
      auto s = status(id);
      if (s && pred(*s)) return s;
      std::this_thread::sleep_for(2ms);
    }
    return std::nullopt;
  }

  std::vector<LogLine> logs(size_t n = 100) {
    return tail_logs(sup->log_sources("hello", "", ""), n);
  }
  bool log_has(const std::string& text, Duration timeout = 5s) {
    const auto deadline = steady_now() + timeout;
    while (steady_now() < deadline) {
      for (const auto& l : logs()) {
        if (l.line.find(text) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
};

inline const auto running = [](const InstanceStatus& s) { return s.state == InstanceState::running && s.pid > 0; };


}  // namespace shoal::test::supervisor_fixture
