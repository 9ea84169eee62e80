// Issue 12, point 4, end to end: a real agent (root, with a gossip keyring) runs two apps;
// app a's instance, a small HTTP prober, tries to read app b's home, spec, release and
// environ and every file of the agent's data dir (Raft log, supervisor DB, keyring,
// snapshot, node id, artifacts, its own log) and /proc/<agent>/environ, and is refused
// each time (EACCES). A secret set with `config set` reaches the app, and no line of the
// agent's log, no event, and no file an app's uid can read. A marker variable in the
// agent's environment never reaches an instance.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "node/api_client.h"
#include "tests/integration/apps_cluster.h"
#include "tests/support/process.h"

namespace shoal::test {
namespace {

// GET /read?path=P: "ok" (read or listed), "denied" (EACCES / EPERM), "missing", or
// "error N"; GET /env: the process's environment as JSON.
const char* kProber = R"(import http.server, json, os, urllib.parse
def probe(p):
    try:
        if os.path.isdir(p):
            os.listdir(p)
        else:
            with open(p, 'rb') as f:
                f.read(1)
        return 'ok'
    except PermissionError:
        return 'denied'
    except FileNotFoundError:
        return 'missing'
    except OSError as e:
        return 'error %d' % e.errno
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path == '/env':
            body = json.dumps(dict(os.environ))
        else:
            body = probe(urllib.parse.parse_qs(u.query)['path'][0])
        data = body.encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
)";

std::string random_hex(size_t n) {
  std::random_device rd;
  std::string out;
  for (size_t i = 0; i < n; ++i) out += "0123456789abcdef"[rd() % 16];
  return out;
}

// Sets one variable in this process's environment (which agents started here inherit)
// for the test's duration.
struct ScopedVar {
  ScopedVar(const char* name, const std::string& value) : name(name) { ::setenv(name, value.c_str(), 1); }
  ~ScopedVar() { ::unsetenv(name); }
  const char* name;
};

// Every regular file under `dir`.
std::vector<fs::path> files_under(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back(it->path());
  }
  return out;
}

}  // namespace

TEST_CASE("isolation: an app cannot read another app's files, the agent's data dir or its "
          "keys, config secrets stay out of logs and events, the agent's env stays its own",
          "[integration][isolation]") {
  if (::geteuid() != 0) {
    WARN("skipped: apps run as their own unprivileged uids only when the agent runs as root; "
         "run this test as root (in a private network namespace)");
    return;
  }
  const std::string marker = "agent-only-" + random_hex(16);
  ScopedVar marker_var("SHOAL_ISOLATION_MARKER", marker);
  const std::string secret_a = "sekrit-a-" + random_hex(24);
  const std::string secret_b = "sekrit-b-" + random_hex(24);

  // The gossip key comes from a config file, so the data dir holds a keyring.
  const fs::path conf_dir = make_temp_dir("shoal-iso-conf");
  auto key = run_command({"keygen"});
  REQUIRE(key.exit_code == 0);
  std::string gossip_key = key.out;
  while (!gossip_key.empty() && (gossip_key.back() == '\n' || gossip_key.back() == ' ')) {
    gossip_key.pop_back();
  }
  std::ofstream(conf_dir / "agent.toml") << "encrypt = \"" << gossip_key << "\"\n";

  AppsCluster c(1, {"--config", (conf_dir / "agent.toml").string()});
  AgentProcess& n0 = *c.agents[0];
  const fs::path data = n0.data_dir();

  // Two apps from the same code; b keeps a private file in its HOME.
  for (const char* name : {"a", "b"}) {
    const std::string app = name;
    const fs::path dir = c.scratch / app;
    fs::create_directories(dir);
    std::ofstream(dir / "prober.py") << kProber;
    std::ofstream(dir / "Procfile")
        << (app == "b" ? "web: echo b-private > \"$HOME/private.txt\" && exec python3 prober.py\n"
                       : "web: exec python3 prober.py\n");
    auto dep = c.cli(n0, {"deploy", dir.string(), "--app", app});
    INFO(dep.out << dep.err);
    REQUIRE(dep.exit_code == 0);
  }
  auto set_a = c.cli(n0, {"config", "set", "a", "API_SECRET=" + secret_a});
  auto set_b = c.cli(n0, {"config", "set", "b", "B_SECRET=" + secret_b});
  INFO(set_a.out << set_a.err << set_b.out << set_b.err);
  REQUIRE(set_a.exit_code == 0);
  REQUIRE(set_b.exit_code == 0);
  json a_inst, b_inst;
  REQUIRE(wait_for(60s, [&] {
    auto ra = running(c.ps(n0, "a"), 2), rb = running(c.ps(n0, "b"), 2);
    if (ra.size() != 1 || rb.size() != 1) return false;
    a_inst = ra[0];
    b_inst = rb[0];
    return a_inst.value("pid", 0) > 0 && b_inst.value("pid", 0) > 0;
  }));
  const int a_port = a_inst.value("port", 0);
  const fs::path inst = data / "supervisor" / "instances";
  const fs::path a_dir = inst / "a" / a_inst.value("id", "");
  const fs::path b_dir = inst / "b" / b_inst.value("id", "");
  REQUIRE(wait_for(10s, [&] { return fs::exists(b_dir / "home" / "private.txt"); }));

  auto ask = [&](const fs::path& p) -> std::string {
    auto r = get_port(a_port, "/read?path=" + node::ApiClient::url_encode(p.string()));
    return r.ok() && r->status == 200 ? r->body : "no answer";
  };

  // What a must not reach: b's files, the agent's data dir and everything in it, environs.
  std::vector<fs::path> denied = {
      data,
      data / "supervisor",
      inst,
      inst / "b",
      b_dir / "home",
      b_dir / "home" / "private.txt",
      b_dir / "spec.json",
      b_dir / "log",
      a_dir / "spec.json",  // a's own config vars, but the supervisor's file
      data / "releases",
      data / "releases" / "b",
      data / "keyring.json",
      data / "node-id",
      data / "serf.snapshot",
      data / "LOCK",
      data / "cluster",
      data / "raft",
      data / "agent" / "log",
      data / "supervisor" / "db",
      fs::path("/proc") / std::to_string(n0.pid()) / "environ",
      fs::path("/proc") / std::to_string(b_inst.value("pid", 0)) / "environ",
  };
  for (const auto& p : denied) {
    INFO(p.string());
    REQUIRE(fs::exists(p));  // as root: the refusal below is not a wrong path
    CHECK(ask(p) == "denied");
  }
  // Every file of the agent's stores, and every file that holds a secret (the app groups'
  // Raft log, the supervisor's DB and specs, ...): stored, but root's only. LevelDB may
  // compact a file away meanwhile: one gone is skipped.
  std::vector<fs::path> found;
  for (const auto& sub : {"raft", "supervisor/db", "artifacts", "releases/b", "agent"}) {
    for (const auto& f : files_under(data / sub)) found.push_back(f);
  }
  for (const auto& f : {"admin-token", "router-access.log"}) {
    if (fs::exists(data / f)) found.push_back(data / f);
  }
  size_t holding_secret = 0;
  for (const auto& f : files_under(data)) {
    const std::string text = read_file(f);
    if (text.find(secret_a) != std::string::npos || text.find(secret_b) != std::string::npos) {
      found.push_back(f);
      ++holding_secret;
    }
  }
  CHECK(holding_secret >= 2);
  CHECK(found.size() > 10);
  for (const auto& p : found) {
    INFO(p.string());
    const std::string got = ask(p);
    if (got == "missing" && !fs::exists(p)) continue;
    CHECK(got == "denied");
  }
  // ... and what it must: its own home and release, so the refusals above are not the
  // prober failing at everything.
  for (const auto& p : {a_dir / "home", a_dir / "home" / "tmp",
                        fs::read_symlink(fs::path("/proc") / std::to_string(a_inst.value("pid", 0)) / "cwd") /
                            "prober.py"}) {
    INFO(p.string());
    CHECK(ask(p) == "ok");
  }

  // a's environment: its config, the platform's variables, nothing of the agent's.
  auto env_r = get_port(a_port, "/env");
  REQUIRE(env_r.ok());
  const json env = json::parse(env_r->body, nullptr, false);
  REQUIRE(env.is_object());
  INFO(env.dump());
  CHECK(env.value("API_SECRET", "") == secret_a);
  CHECK_FALSE(env.contains("B_SECRET"));
  CHECK_FALSE(env.contains("SHOAL_ISOLATION_MARKER"));
  CHECK(env.value("HOME", "") == (a_dir / "home").string());
  CHECK(env.value("PATH", "") == "/usr/local/bin:/usr/bin:/bin");
  const std::set<std::string> allowed = {"PATH", "HOME", "TMPDIR", "PORT", "SHOAL_APP",
                                         "SHOAL_RELEASE", "SHOAL_INSTANCE", "SHOAL_PROCESS_TYPE",
                                         "API_SECRET",
                                         // what sh and python add themselves
                                         "PWD", "SHLVL", "_", "OLDPWD", "LC_CTYPE"};
  for (const auto& [name, value] : env.items()) {
    INFO(name);
    CHECK(allowed.count(name) == 1);
  }
  // No value of the agent's own environment (which is this test's) turned up either.
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    if (name == "PATH" || name == "PWD" || name == "SHLVL" || name == "_") continue;
    INFO(entry);
    if (env.contains(name)) CHECK(env.value(name, "") != entry.substr(entry.find('=') + 1));
  }

  // The secrets are in no log line of the agent (stderr and its log file, at debug) and in
  // no event; the events name the key.
  std::string events_text;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"events", "a", "--format", "json", "-n", "1000"},
        std::vector<std::string>{"events", "b", "--format", "json", "-n", "1000"},
        std::vector<std::string>{"events", "--format", "json", "-n", "1000"}}) {
    auto r = c.cli(n0, args);
    INFO(r.err);
    CHECK(r.exit_code == 0);
    events_text += r.out;
  }
  CHECK(events_text.find("config set API_SECRET") != std::string::npos);
  CHECK(events_text.find("config set B_SECRET") != std::string::npos);
  const std::string agent_log = n0.log() + read_file(data / "agent" / "log");
  CHECK(agent_log.find("instance-start app=a") != std::string::npos);  // the logs are there
  for (const auto& secret : {secret_a, secret_b, gossip_key}) {
    CHECK(agent_log.find(secret) == std::string::npos);
    CHECK(events_text.find(secret) == std::string::npos);
  }
  CHECK((set_a.out + set_a.err).find(secret_a) == std::string::npos);

  std::error_code ec;
  fs::remove_all(conf_dir, ec);
}

TEST_CASE("isolation: a build runs as its app's uid, with none of the agent's environment, and "
          "cannot read the agent's keys",
          "[integration][isolation]") {
  if (::geteuid() != 0) {
    WARN("skipped: builds run as their app's uid only when the agent runs as root");
    return;
  }
  const std::string marker = "agent-only-" + random_hex(16);
  ScopedVar marker_var("SHOAL_ISOLATION_MARKER", marker);
  AppsCluster c(1);
  AgentProcess& n0 = *c.agents[0];
  const fs::path data = n0.data_dir();
  REQUIRE(fs::exists(data / "cluster-secret"));
  const fs::path dir = c.scratch / "built";
  fs::create_directories(dir);
  std::ofstream(dir / "prober.py") << kProber;
  std::ofstream(dir / "Procfile") << "web: exec python3 prober.py\n";
  // Each probe prints one line the deploy streams back.
  std::ofstream(dir / "shoal.toml")
      << "build = \"echo uid=$(id -u); "
      << "cat '" << (data / "cluster-secret").string()
      << "' >/dev/null 2>&1 && echo secret=read || echo secret=refused; "
      << "cat '" << (data / "node-token").string()
      << "' >/dev/null 2>&1 && echo token=read || echo token=refused; "
      << "echo marker=$(env | grep -c SHOAL_ISOLATION_MARKER); echo home=$HOME; "
      << "echo made > built.txt\"\n";
  auto dep = c.cli(n0, {"deploy", dir.string(), "--app", "built"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  const std::string out = dep.out;
  CHECK(out.find("uid=0") == std::string::npos);
  CHECK(out.find("uid=61") != std::string::npos);  // 61000 + the app's seq
  CHECK(out.find("secret=refused") != std::string::npos);
  CHECK(out.find("token=refused") != std::string::npos);
  CHECK(out.find("marker=0") != std::string::npos);
  CHECK(out.find(marker) == std::string::npos);
  // HOME is the build's own, outside the source, so caches there stay out of the slug.
  CHECK(out.find("home=" + (data / "tmp").string()) != std::string::npos);
  // What the build made is in the slug the instance runs.
  REQUIRE(wait_for(60s, [&] { return running(c.ps(n0, "built"), 1).size() == 1; }));
  const json inst = running(c.ps(n0, "built"), 1)[0];
  const fs::path cwd =
      fs::read_symlink(fs::path("/proc") / std::to_string(inst.value("pid", 0)) / "cwd");
  CHECK(read_file(cwd / "built.txt") == "made\n");
}

}  // namespace shoal::test
