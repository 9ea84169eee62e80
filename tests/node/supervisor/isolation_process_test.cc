// Isolation with real processes (docs/supervisor.md, "Isolation"): one app's instance tries
// to reach another app's home, spec, log and environ and the agent's files in the data
// dir, and is refused each time; the files that hold config vars are root's only; the
// instance inherits no descriptor and no variable of the agent; config values reach no log
// line. Privilege dropping needs root: those tests say so and skip without it.
#include <catch2/catch.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "node/supervisor/isolation.h"
#include "tests/node/supervisor/supervisor_fixture.h"

using namespace shoal;
using namespace shoal::test::supervisor_fixture;

namespace {

constexpr uint64_t kOtherGroup = kAppGroupBase + 4;

struct Owner {
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  bool operator==(const Owner&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Owner& o) {
  return os << std::oct << o.mode << std::dec << " " << o.uid << ":" << o.gid;
}
Owner owner_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return {static_cast<mode_t>(st.st_mode & 07777), st.st_uid, st.st_gid};
}

// Every line of the app's instances' logs.
std::string app_log(Supervisor& sup, const std::string& app) {
  std::string out;
  for (const auto& l : tail_logs(sup.log_sources(app, "", ""), 1000)) out += l.line + "\n";
  return out;
}

// For each "d:PATH" (list a directory) or "f:PATH" (read a file) in $PROBES, prints
// "probe PATH ok|denied|missing|other: ...", then the shell's descriptors ("... N -> WHAT")
// and environment.
const char* kProber =
    "for item in $PROBES; do kind=${item%%:*}; p=${item#*:}; "
    "if [ \"$kind\" = d ]; then out=$(ls \"$p\" 2>&1 >/dev/null); "
    "else out=$(head -c1 \"$p\" 2>&1 >/dev/null); fi; "
    "case \"$out\" in *'Permission denied'*) r=denied;; *'No such file'*) r=missing;; "
    "'') r=ok;; *) r=\"other: $out\";; esac; echo \"probe $p $r\"; done; "
    // Straight to stdout: a redirection, a pipe or a command substitution would add
    // descriptors of the shell's own.
    "ls -l /proc/$$/fd/; "
    "echo env-begin; env; echo env-end; exec sleep 100";

}  // namespace

TEST_CASE("isolation process: an app cannot reach another app's files, the agent's data "
          "dir or environ, it inherits nothing of the agent",
          "[supervisor][isolation]") {
  if (::geteuid() != 0) {
    WARN("skipped: apps run as their own uids only when the supervisor is root");
    return;
  }
  ::setenv("SHOAL_TEST_AGENT_MARKER", "agent-only", 1);
  Fixture f;
  ::unsetenv("SHOAL_TEST_AGENT_MARKER");
  REQUIRE(f.assign(1, {Fixture::spec("web.1", "echo hello-private > \"$HOME/private\"; "
                                               "exec sleep 100")})
              .ok());
  auto hello = f.wait_for("web.1", running);
  REQUIRE(hello);
  const fs::path inst = f.data_dir / "supervisor" / "instances";
  const fs::path hello_dir = inst / "hello" / "web.1";
  REQUIRE(f.wait_for("web.1", [&](const InstanceStatus&) {
    return fs::exists(hello_dir / "home" / "private");
  }));
  // What another part of the agent leaves in the data dir with the umask's modes: the next
  // start seals it.
  std::ofstream(f.data_dir / "keyring.json") << "[\"a key\"]";
  ::chmod((f.data_dir / "keyring.json").c_str(), 0644);
  fs::create_directories(f.data_dir / "raft");
  ::chmod((f.data_dir / "raft").c_str(), 0755);
  std::ofstream(f.data_dir / "raft" / "000001.log") << "entries";
  ::chmod((f.data_dir / "raft" / "000001.log").c_str(), 0644);
  std::ofstream(f.release_dir / "Procfile") << "web: true\n";
  ::chmod((f.release_dir / "Procfile").c_str(), 0644);

  const fs::path other_dir = inst / "other" / "web.1";
  const std::vector<std::string> denied = {
      "d:" + (hello_dir / "home").string(),
      "f:" + (hello_dir / "home" / "private").string(),
      "f:" + (hello_dir / kSpecFile).string(),
      "f:" + (hello_dir / kLogFile).string(),
      "f:" + (hello_dir / kAppPidFile).string(),
      "d:" + (inst / "hello").string(),
      "d:" + inst.string(),
      "d:" + f.data_dir.string(),
      "f:" + (f.data_dir / "supervisor" / "db" / "CURRENT").string(),
      "f:" + (f.data_dir / "keyring.json").string(),
      "d:" + (f.data_dir / "raft").string(),
      "f:" + (f.data_dir / "raft" / "000001.log").string(),
      "f:/proc/" + std::to_string(hello->pid) + "/environ",
      "f:/proc/" + std::to_string(::getpid()) + "/environ",
      // Its own spec holds its config vars, but it is the supervisor's file.
      "f:" + (other_dir / kSpecFile).string(),
  };
  const std::vector<std::string> allowed = {
      "d:" + (other_dir / "home").string(),
      "d:" + (other_dir / "home" / "tmp").string(),
      "f:" + (f.release_dir / "Procfile").string(),
  };
  std::string probes;
  for (const auto& list : {denied, allowed}) {
    for (const auto& p : list) probes += p + " ";
  }

  Assignment a;
  a.app = "other";
  a.group = kOtherGroup;
  a.term = 1;
  a.leader = "node-a";
  InstanceSpec spec = Fixture::spec("web.1", kProber);
  spec.env["PROBES"] = probes;
  a.instances = {spec};
  REQUIRE(f.sup->assign(a).ok());
  std::string log;
  const auto deadline = steady_now() + 10s;
  while (steady_now() < deadline) {
    log = app_log(*f.sup, "other");
    if (log.find("env-end") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  INFO(log);
  REQUIRE(log.find("env-end") != std::string::npos);
  for (const auto& p : denied) CHECK(log.find("probe " + p.substr(2) + " denied\n") != std::string::npos);
  for (const auto& p : allowed) CHECK(log.find("probe " + p.substr(2) + " ok\n") != std::string::npos);

  // No descriptor of the shim's (the notify pipe to the agent above all) beyond stdout and
  // stderr reaches the app.
  std::istringstream lines(log);
  std::set<std::string> env_names;
  int descriptors = 0;
  bool in_env = false;
  for (std::string line; std::getline(lines, line);) {
    if (line == "env-begin" || line == "env-end") {
      in_env = line == "env-begin";
      continue;
    }
    if (in_env) {
      env_names.insert(line.substr(0, line.find('=')));
      continue;
    }
    const size_t arrow = line.find(" -> ");
    if (arrow == std::string::npos) continue;
    const size_t start = line.rfind(' ', arrow - 1) + 1;
    const std::string fd = line.substr(start, arrow - start);
    INFO(line);
    CHECK((fd == "0" || fd == "1" || fd == "2"));
    ++descriptors;
  }
  CHECK(descriptors == 3);
  // Exactly the platform's variables and the app's own, plus what sh itself exports.
  std::set<std::string> want = {"PATH", "GREETING", "PROBES", "PWD", "SHLVL", "_", "OLDPWD"};
  for (const auto& n : platform_env_names()) want.insert(n);
  for (const auto& n : env_names) CHECK(want.count(n) == 1);
  CHECK(env_names.count("SHOAL_TEST_AGENT_MARKER") == 0);
  CHECK(env_names.count("HOME") == 1);

  // The modes that make it so.
  const gid_t hello_gid = static_cast<gid_t>(app_uid(kGroup));
  const uid_t hello_uid = static_cast<uid_t>(app_uid(kGroup));
  CHECK(owner_of(f.data_dir) == Owner{0711, 0, 0});
  CHECK(owner_of(f.data_dir / "supervisor") == Owner{0711, 0, 0});
  CHECK(owner_of(inst) == Owner{0711, 0, 0});
  CHECK(owner_of(f.data_dir / "supervisor" / "db") == Owner{0700, 0, 0});
  CHECK(owner_of(f.data_dir / "releases") == Owner{0711, 0, 0});
  CHECK(owner_of(f.data_dir / "releases" / "hello") == Owner{0710, 0, hello_gid});
  CHECK(owner_of(inst / "hello") == Owner{0710, 0, hello_gid});
  CHECK(owner_of(hello_dir) == Owner{0710, 0, hello_gid});
  CHECK(owner_of(hello_dir / "home") == Owner{0700, hello_uid, hello_gid});
  CHECK(owner_of(hello_dir / "home" / "tmp") == Owner{0700, hello_uid, hello_gid});
  for (const char* file : {kSpecFile, kLogFile, kAppPidFile, kShimLogFile}) {
    INFO(file);
    CHECK(owner_of(hello_dir / file) == Owner{0600, 0, 0});
  }
  CHECK(owner_of(f.data_dir / "keyring.json").mode == 0600);
  CHECK(owner_of(f.data_dir / "raft").mode == 0700);
}

TEST_CASE("isolation process: an app's HOME/tmp swapped for a symlink is never followed",
          "[supervisor][isolation]") {
  if (::geteuid() != 0) {
    WARN("skipped: apps run as their own uids only when the supervisor is root");
    return;
  }
  Fixture f;
  const fs::path victim = shoal::test::make_temp_dir("shoal-victim");
  ::chmod(victim.c_str(), 0755);
  // The app replaces its TMPDIR with a link to a root-owned directory and dies; a
  // restart that chowned HOME/tmp would hand that directory to the app.
  REQUIRE(f.assign(1, {Fixture::spec("web.1", "rm -rf \"$TMPDIR\" && ln -s " + victim.string() +
                                                   " \"$TMPDIR\" && exit 1")})
              .ok());
  auto s = f.wait_for(
      "web.1", [](const InstanceStatus& s) { return s.message.find("symlink") != std::string::npos; },
      10s);
  REQUIRE(s);
  CHECK(s->message.find("cannot start") != std::string::npos);
  CHECK(owner_of(victim) == Owner{0755, 0, 0});
  std::error_code ec;
  fs::remove_all(victim, ec);
}

TEST_CASE("isolation process: config values reach no log line, shim log or status file",
          "[supervisor][isolation]") {
  const std::string secret = "s3cr3t-value-" + std::to_string(::getpid());
  std::ostringstream captured;
  auto before = spdlog::default_logger();
  {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  fs::path instance_dir;
  {
    Fixture f;
    instance_dir = f.data_dir / "supervisor" / "instances" / "hello" / "web.1";
    // It crashes (start, exit, restart) and fails its command check: every path that logs.
    InstanceSpec s = Fixture::spec("web.1", "echo started; sleep 0.3; exit 3");
    s.env["API_SECRET"] = secret;
    HealthSpec h;
    h.type = "command";
    h.command = "exit 1";
    h.interval_ms = 100;
    h.timeout_ms = 500;
    h.unhealthy_threshold = 1;
    s.health = h;
    REQUIRE(f.assign(1, {s}).ok());
    REQUIRE(f.wait_for("web.1", [](const InstanceStatus& s) { return s.restarts >= 2; }, 15s));
    // Stored where it must be, root's only.
    CHECK(shoal::test::read_file(instance_dir / kSpecFile).find(secret) != std::string::npos);
    struct stat st {};
    REQUIRE(::stat((instance_dir / kSpecFile).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(shoal::test::read_file(instance_dir / kShimLogFile).find(secret) == std::string::npos);
    CHECK(shoal::test::read_file(instance_dir / kStatusFile).find(secret) == std::string::npos);
  }
  spdlog::set_default_logger(before);
  const std::string text = captured.str();
  INFO(text);
  CHECK(text.find("instance-start") != std::string::npos);  // the capture saw the run
  CHECK(text.find("instance-exit") != std::string::npos);
  CHECK(text.find(secret) == std::string::npos);
}
