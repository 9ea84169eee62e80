// Tests of node/script_process: a real /bin/sh, fed stdin, its output captured and capped,
// killed with its whole process group at the timeout.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "node/script_process.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::node;
using namespace std::chrono_literals;

namespace {

ScriptLimits limits(Duration timeout = 10s) {
  ScriptLimits l;
  l.timeout = timeout;
  return l;
}

bool pid_alive(pid_t pid) { return ::kill(pid, 0) == 0; }

}  // namespace

TEST_CASE("script: stdin in, stdout and stderr out, exit status", "[node][event-handler]") {
  auto r = run_script("read line; echo \"got $line $GREETING\"; echo oops >&2; exit 3",
                      {{"GREETING", "hi"}}, "payload\n", limits());
  CHECK(r.end == ScriptRun::End::exited);
  CHECK(r.exit_code == 3);
  CHECK_FALSE(r.ok());
  CHECK(r.out == "got payload hi\n");
  CHECK(r.err == "oops\n");
  CHECK(r.describe(limits()) == "exit status 3");

  auto ok = run_script("cat", {}, "all of it", limits());
  CHECK(ok.ok());
  CHECK(ok.out == "all of it");
}

TEST_CASE("script: given variables replace inherited ones", "[node][event-handler]") {
  ::setenv("SHOAL_TEST_INHERITED", "old", 1);
  auto r = run_script("echo \"$SHOAL_TEST_INHERITED $PATH_SEEN\"", {{"SHOAL_TEST_INHERITED", "new"}},
                      "", limits());
  CHECK(r.out == "new \n");
  auto kept = run_script("echo \"$SHOAL_TEST_INHERITED\"", {}, "", limits());
  CHECK(kept.out == "old\n");
  ::unsetenv("SHOAL_TEST_INHERITED");
}

TEST_CASE("script: output past the cap is counted, not kept", "[node][event-handler]") {
  auto l = limits();
  l.stdout_max = 100;
  auto r = run_script("head -c 100000 /dev/zero | tr '\\0' x", {}, "", l);
  CHECK(r.ok());
  CHECK(r.out.size() == 100);
  CHECK(r.out_total == 100000);
}

TEST_CASE("script: one that never reads stdin is not an error", "[node][event-handler]") {
  const std::string big(1 << 20, 'x');  // more than a pipe holds
  auto r = run_script("exit 0", {}, big, limits());
  CHECK(r.ok());
  // The default SIGPIPE disposition is restored for the child: `yes | head` ends.
  auto pipeline = run_script("yes | head -n 2", {}, "", limits());
  CHECK(pipeline.ok());
  CHECK(pipeline.out == "y\ny\n");
}

TEST_CASE("script: past the timeout its whole process group is killed", "[node][event-handler]") {
  const auto dir = test::make_temp_dir("shoal-script");
  const auto pidfile = dir / "child.pid";
  auto l = limits(500ms);
  bool slow_called = false;
  l.slow_after = 200ms;
  l.on_slow = [&](Duration) { slow_called = true; };
  // The shell starts a background sleeper in its group, records its pid, then waits.
  auto r = run_script("sleep 30 & echo $! > " + pidfile.string() + "; echo started; wait", {}, "",
                      l);
  CHECK(r.end == ScriptRun::End::timed_out);
  CHECK(r.out == "started\n");
  CHECK(slow_called);
  CHECK(r.took < 5s);  // bounded: it did not wait for the sleeper
  CHECK_THAT(r.describe(l), Catch::Contains("timed out after 500 ms"));
  const pid_t child = std::stoi(test::read_file(pidfile));
  // The sleeper was in the group: it is gone (or a zombie about to be reaped by init).
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
    std::string pid, comm, state;
    stat >> pid >> comm >> state;
    gone = !pid_alive(child) || state == "Z";
    if (!gone) std::this_thread::sleep_for(20ms);
  }
  CHECK(gone);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("script: a background process holding the pipes does not hold up the caller",
          "[node][event-handler]") {
  const auto dir = test::make_temp_dir("shoal-script");
  const auto pidfile = dir / "child.pid";
  // A detached daemon in its own session keeps stdout open; the shell exits at once.
  auto r = run_script("setsid sleep 30 & echo $! > " + pidfile.string() + "; echo done", {}, "",
                      limits(10s));
  CHECK(r.ok());
  CHECK(r.out == "done\n");
  CHECK(r.took < 5s);
  const pid_t daemon = std::stoi(test::read_file(pidfile));
  ::kill(daemon, SIGKILL);  // ours to clean up: started by this test
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("script: cancel kills it at once", "[node][event-handler]") {
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    cancel = true;
  });
  auto r = run_script("sleep 30", {}, "", limits(30s), &cancel);
  canceller.join();
  CHECK(r.end == ScriptRun::End::cancelled);
  CHECK(r.took < 5s);
}

TEST_CASE("script: a child killed by a signal is reported as such", "[node][event-handler]") {
  auto r = run_script("kill -TERM $$", {}, "", limits());
  CHECK(r.end == ScriptRun::End::signaled);
  CHECK(r.signal == SIGTERM);
  CHECK(r.describe(limits()) == "killed by signal 15");
}
