// Issue 7 end to end, as a new user would do it: a cluster of real agents on loopback,
// apps deployed from examples/ (a directory, a tarball, a single static binary) through a
// node that holds none of the app's replicas, then scale, kill -9 of an instance, config
// set, rollback, logs, and a kill -9 + restart of an agent that must not start duplicates.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "node/artifacts/archive.h"
#include "node/http_client.h"
#include "tests/integration/apps_cluster.h"
#include "tests/support/process.h"

namespace shoal::test {
namespace {

TEST_CASE("apps: deploy a directory, a tarball and a binary through a non-replica, scale, "
          "crash, config, rollback, logs, agent restart",
          "[integration][apps]") {
  AppsCluster c(4);
  AgentProcess& n0 = *c.agents[0];

  // The app exists before its first deploy here, so we can pick a node without a replica.
  const auto [replicas, outsider] = c.create_app("web");

  // 1. A directory, through the outsider.
  auto dep = c.cli(*outsider, {"deploy", (source_dir() / "examples/python-web").string(), "--app", "web"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  json ps = c.ps(*outsider, "web");
  REQUIRE(running(ps, 1).size() == 2);
  for (const auto& i : running(ps, 1)) {
    auto r = get_port(i.value("port", 0));
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->body.find(i.value("id", "")) != std::string::npos);
    CHECK(r->body.find("hello from shoal") != std::string::npos);
  }

  // 2. A tarball (a worker app, created by its first deploy).
  const fs::path tgz = c.scratch / "worker.tar.gz";
  REQUIRE(node::pack_directory(source_dir() / "examples/python-worker", tgz).ok());
  dep = c.cli(*outsider, {"deploy", tgz.string(), "--app", "worker"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  CHECK((dep.out + dep.err).find("Created app worker") != std::string::npos);
  REQUIRE(running(c.ps(n0, "worker")).size() == 1);

  // 3. A single static binary: runs as `web` without a Procfile.
  REQUIRE(fs::exists(static_example()));
  dep = c.cli(*outsider, {"deploy", static_example().string(), "--app", "bin"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  {
    auto bin = running(c.ps(n0, "bin"));
    REQUIRE(bin.size() == 1);
    auto r = get_port(bin[0].value("port", 0));
    REQUIRE(r.ok());
    CHECK(r->body.find("hello from " + bin[0].value("id", "")) != std::string::npos);
  }

  // 4. Scale to 4: spread over every node.
  REQUIRE(c.cli(n0, {"scale", "web", "web=4"}).exit_code == 0);
  REQUIRE(wait_for(30s, [&] { return running(c.ps(n0, "web")).size() == 4; }));
  {
    std::set<std::string> nodes;
    for (const auto& i : running(c.ps(n0, "web"))) nodes.insert(i.value("node", ""));
    CHECK(nodes.size() == 4);
  }

  // 5. kill -9 of an instance's process: the supervisor restarts it.
  {
    const json victim = running(c.ps(n0, "web"))[0];
    const int pid = victim.value("pid", 0);
    REQUIRE(pid > 0);
    REQUIRE(::kill(pid, SIGKILL) == 0);
    REQUIRE(wait_for(20s, [&] {
      for (const auto& i : running(c.ps(n0, "web"))) {
        if (i.value("id", "") == victim.value("id", "") && i.value("pid", 0) != pid &&
            i.value("restarts", 0) >= 1) {
          return true;
        }
      }
      return false;
    }));
  }

  // 6. config set rolls a new release; every instance answers with the new value.
  auto set = c.cli(n0, {"config", "set", "web", "GREETING=bonjour"});
  INFO(set.out << set.err);
  REQUIRE(set.exit_code == 0);
  REQUIRE(wait_for(60s, [&] {
    json p = c.ps(n0, "web");
    return p.value("release", 0) == 2 && running(p, 2).size() == 4 && running(p).size() == 4;
  }));
  for (const auto& i : running(c.ps(n0, "web"), 2)) {
    auto r = get_port(i.value("port", 0));
    REQUIRE(r.ok());
    CHECK(r->body.find("bonjour") != std::string::npos);
  }

  // 7. rollback: a new release (v3) equal to v1.
  REQUIRE(c.cli(n0, {"rollback", "web", "v1"}).exit_code == 0);
  REQUIRE(wait_for(60s, [&] {
    json p = c.ps(n0, "web");
    return p.value("release", 0) == 3 && running(p, 3).size() == 4 && running(p).size() == 4;
  }));
  for (const auto& i : running(c.ps(n0, "web"), 3)) {
    auto r = get_port(i.value("port", 0));
    REQUIRE(r.ok());
    CHECK(r->body.find("hello from shoal") != std::string::npos);
  }

  // 8. logs: lines from every instance, merged from every node.
  {
    auto logs = c.cli(*outsider, {"logs", "web", "-n", "1000"});
    INFO(logs.out << logs.err);
    REQUIRE(logs.exit_code == 0);
    for (const auto& i : running(c.ps(n0, "web"))) {
      CHECK(logs.out.find("as " + i.value("id", "")) != std::string::npos);
    }
  }

  // 9. kill -9 of an agent and its restart: its instances are re-adopted, not duplicated.
  {
    AgentProcess* victim = c.by_name(running(c.ps(n0, "web"))[0].value("node", ""));
    REQUIRE(victim != nullptr);
    const auto before = instance_processes("web", c.data_dirs());
    REQUIRE(before.size() == 4);
    victim->kill9();
    victim->restart();
    REQUIRE(victim->wait_healthy());
    std::this_thread::sleep_for(5s);  // several leader pushes and supervisor turns
    REQUIRE(wait_for(30s, [&] { return running(c.ps(n0, "web")).size() == 4; }));
    CHECK(instance_processes("web", c.data_dirs()) == before);
  }
}

// Sets environment variables for the agents a test starts (spawn copies this process's
// environment), and puts the old values back.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::vector<std::pair<std::string, std::string>> vars) {
    for (auto& [k, v] : vars) {
      const char* was = std::getenv(k.c_str());
      saved_.emplace_back(k, was ? std::optional<std::string>(was) : std::nullopt);
      ::setenv(k.c_str(), v.c_str(), 1);
    }
  }
  ~ScopedEnv() {
    for (auto& [k, v] : saved_) {
      if (v) ::setenv(k.c_str(), v->c_str(), 1);
      else ::unsetenv(k.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_CASE("apps: artifact GC keeps the last 10 releases on the app's replicas and drops the "
          "rest, rollback to a kept release still works",
          "[integration][apps]") {
  // GC every 500 ms with a 5 s grace (defaults: 5 min and 1 h; docs/artifacts.md).
  ScopedEnv env({{"SHOAL_ARTIFACT_GC_INTERVAL_MS", "500"}, {"SHOAL_ARTIFACT_GC_GRACE_MS", "5000"}});
  AppsCluster c(4);
  AgentProcess& n0 = *c.agents[0];
  const auto [replicas, outsider] = c.create_app("gc");

  // Each release serves its own VERSION file. Deploys go through the outsider, which
  // holds no replica: only the replicas may keep the blobs past the grace.
  const fs::path app = c.scratch / "gcapp";
  fs::create_directories(app);
  std::ofstream(app / "Procfile") << "web: exec python3 -m http.server $PORT --bind 127.0.0.1\n";
  std::map<int, std::string> digest;  // version -> slug, as each deploy made it
  auto deploy = [&](int v) {
    std::ofstream(app / "VERSION", std::ios::trunc) << v;
    auto dep = c.cli(*outsider, {"deploy", app.string(), "--app", "gc"});
    INFO(dep.out << dep.err);
    REQUIRE(dep.exit_code == 0);
    auto info = n0.client(5s).call("GET", "/v1/apps/gc");
    REQUIRE(info.ok());
    REQUIRE(info->value("release", 0) == v);
    digest[v] = info->value("digest", "");
  };
  deploy(1);  // v1 runs one instance: unpacked on its node
  json ps = c.ps(n0, "gc");
  REQUIRE(running(ps, 1).size() == 1);
  AgentProcess* ran_v1 = c.by_name(running(ps, 1)[0].value("node", ""));
  REQUIRE(ran_v1 != nullptr);
  REQUIRE(fs::exists(ran_v1->data_dir() / "releases/gc" / digest[1]));
  // Scaled to 0, the next deploys have nothing to roll out and return at once.
  REQUIRE(c.cli(n0, {"scale", "gc", "web=0"}).exit_code == 0);
  REQUIRE(wait_for(30s, [&] { return running(c.ps(n0, "gc")).empty(); }));
  constexpr int kReleases = 12;  // two more than are kept
  for (int v = 2; v <= kReleases; ++v) deploy(v);
  {
    auto rel = n0.client(5s).call("GET", "/v1/apps/gc/releases");
    REQUIRE(rel.ok());
    REQUIRE(rel->at("releases").size() == 10);
    CHECK(rel->at("releases").back().value("version", 0) == 3);
  }
  std::set<std::string> kept;
  for (int v = 3; v <= kReleases; ++v) kept.insert(digest[v]);

  // Pruned releases' blobs (v1, v2) leave every node and v1's unpacked directory leaves
  // its node; the kept ones end up on every replica (fetched from the outsider, or from a
  // replica that has it) and, past the grace, leave the outsider.
  auto blobs = [](AgentProcess& a) {
    std::set<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(a.data_dir() / "artifacts/blobs", ec)) {
      out.insert(e.path().filename().string());
    }
    return out;
  };
  const bool settled = wait_for(40s, [&] {
    for (auto& a : c.agents) {
      if (blobs(*a) != (a.get() == outsider ? std::set<std::string>{} : kept)) return false;
    }
    return !fs::exists(ran_v1->data_dir() / "releases/gc" / digest[1]);
  });
  {
    std::string state;
    for (auto& a : c.agents) {
      state += a->name() + (a.get() == outsider ? " (outsider):" : ":");
      for (const auto& d : blobs(*a)) state += " " + d.substr(0, 8) + (kept.count(d) ? "" : "(pruned)");
      state += "\n";
    }
    INFO(state);
    REQUIRE(settled);
  }
  bool logged = false;
  for (auto& a : c.agents) logged |= a->log().find("artifact-gc removed=") != std::string::npos;
  CHECK(logged);

  // Rollback: to v1 is refused (not kept); to v3 works, its blob fetched from a replica.
  auto rb = n0.client(5s).send("POST", "/v1/apps/gc/rollback", R"({"version": 1})");
  REQUIRE(rb.ok());
  CHECK(rb->status == 404);
  REQUIRE(c.cli(n0, {"rollback", "gc", "v3"}).exit_code == 0);
  REQUIRE(c.cli(n0, {"scale", "gc", "web=2"}).exit_code == 0);
  REQUIRE(wait_for(60s, [&] { return running(c.ps(n0, "gc"), kReleases + 1).size() == 2; }));
  for (const auto& i : running(c.ps(n0, "gc"), kReleases + 1)) {
    auto r = get_port(i.value("port", 0), "/VERSION");
    REQUIRE(r.ok());
    CHECK(r->body == "3");
  }
}

TEST_CASE("apps: bad input gets a clear error and changes nothing", "[integration][apps]") {
  AppsCluster c(1);
  AgentProcess& n0 = *c.agents[0];
  auto deploy_bytes = [&](const std::string& app, const std::string& bytes) {
    auto r = n0.client(30s).send("POST", "/v1/apps/" + app + "/deploy", bytes, "application/octet-stream");
    REQUIRE(r.ok());
    return *r;
  };
  auto make_tar = [&](const std::string& name, const std::string& script) {
    const fs::path out = c.scratch / name;
    const std::string py = "import tarfile, io, sys\nt = tarfile.open(sys.argv[1], 'w:gz')\n"
                           "def add(name, data=b'x', **kw):\n"
                           "    ti = tarfile.TarInfo(name); ti.size = len(data)\n"
                           "    for k, v in kw.items(): setattr(ti, k, v)\n"
                           "    t.addfile(ti, io.BytesIO(data) if ti.isreg() else None)\n" +
                           script + "\nt.close()\n";
    std::ofstream(c.scratch / "mk.py") << py;
    REQUIRE(std::system(("/usr/bin/python3 " + (c.scratch / "mk.py").string() + " " + out.string()).c_str()) == 0);
    return read_file(out);
  };

  SECTION("hostile archives are refused, naming the entry") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"dotdot", "add('Procfile', b'web: true\\n'); add('../evil')"},
        {"absolute", "add('Procfile', b'web: true\\n'); add('/tmp/evil')"},
        {"symlink", "add('Procfile', b'web: true\\n'); add('l', type=tarfile.SYMTYPE, linkname='../../etc')"},
        {"noprocfile", "add('a.txt'); add('b.txt')"},
    };
    for (const auto& [name, script] : cases) {
      INFO(name);
      auto r = deploy_bytes("bad", make_tar(name + ".tgz", script));
      CHECK(r.status == 400);
      CHECK(r.body.find("error") != std::string::npos);
    }
    // A bomb: a header that claims 3 GiB (the data is never sent).
    {
      auto r = deploy_bytes("bad", make_tar("bomb.tgz",
                                            "ti = tarfile.TarInfo('Procfile'); ti.size = 5\n"
                                            "t.addfile(ti, io.BytesIO(b'web: '))\n"
                                            "ti = tarfile.TarInfo('big'); ti.size = 3 << 30\n"
                                            "t.fileobj.write(ti.tobuf())"));
      CHECK(r.status == 400);
    }
    // Nothing was created.
    auto apps = n0.client(5s).call("GET", "/v1/apps");
    REQUIRE(apps.ok());
    CHECK(apps->at("apps").empty());
  }

  SECTION("bad names, unknown process types, missing releases") {
    CHECK(deploy_bytes("Not_A_Label", "#!/bin/sh\n").status == 400);
    auto created = n0.client(10s).send("POST", "/v1/apps", R"({"name": "-bad-"})");
    REQUIRE(created.ok());
    CHECK(created->status == 400);
    auto dep = c.cli(n0, {"deploy", static_example().string(), "--app", "ok"});
    INFO(dep.out << dep.err);
    REQUIRE(dep.exit_code == 0);
    auto scale = n0.client(5s).send("POST", "/v1/apps/ok/scale", R"({"nope": 2})");
    REQUIRE(scale.ok());
    CHECK(scale->status == 400);
    CHECK(scale->body.find("nope") != std::string::npos);
    auto rb = n0.client(5s).send("POST", "/v1/apps/ok/rollback", R"({"version": 42})");
    REQUIRE(rb.ok());
    CHECK(rb->status == 404);
    auto releases = n0.client(5s).call("GET", "/v1/apps/ok/releases");
    REQUIRE(releases.ok());
    CHECK(releases->at("releases").size() == 1);
  }

  SECTION("a failing build keeps the old release running") {
    const fs::path app = c.scratch / "buildfail";
    fs::create_directories(app);
    std::ofstream(app / "Procfile") << "web: exec python3 -m http.server $PORT --bind 127.0.0.1\n";
    auto dep = c.cli(n0, {"deploy", app.string(), "--app", "bf"});
    INFO(dep.out << dep.err);
    REQUIRE(dep.exit_code == 0);
    std::ofstream(app / "shoal.toml") << "build = \"echo compiling; exit 3\"\n";
    dep = c.cli(n0, {"deploy", app.string(), "--app", "bf"});
    INFO(dep.out << dep.err);
    CHECK(dep.exit_code == 1);
    CHECK((dep.out + dep.err).find("compiling") != std::string::npos);
    json p = c.ps(n0, "bf");
    CHECK(p.value("release", 0) == 1);
    CHECK(running(p, 1).size() == 1);
  }
}

// Issue 8, health checks: a rollout waits until the new instance passes its [health] check
// (ps: starting, then healthy), and a release whose check never passes fails the deploy,
// naming the check, while the old release keeps serving.
TEST_CASE("apps: a rollout waits for health, a release that never turns healthy fails the "
          "deploy and the old one keeps serving",
          "[integration][apps]") {
  AppsCluster c(1);
  AgentProcess& n0 = *c.agents[0];
  const fs::path app = c.scratch / "hc";
  fs::create_directories(app);
  std::ofstream(app / "Procfile") << "web: exec python3 server.py\n";
  std::ofstream(app / "server.py")
      << "import http.server, os, time\n"
         "start = time.time()\n"
         "ready_after = float(os.environ.get('READY_AFTER', '0'))\n"
         "broken = os.environ.get('BROKEN') == '1'\n"
         "class H(http.server.BaseHTTPRequestHandler):\n"
         "    def do_GET(self):\n"
         "        code = 200\n"
         "        if self.path == '/health':\n"
         "            code = 500 if broken else 200 if time.time() - start >= ready_after else 503\n"
         "        body = ('v%s %d\\n' % (os.environ.get('SHOAL_RELEASE'), code)).encode()\n"
         "        self.send_response(code)\n"
         "        self.send_header('Content-Length', str(len(body)))\n"
         "        self.end_headers()\n"
         "        self.wfile.write(body)\n"
         "    def log_message(self, *args):\n"
         "        pass\n"
         "http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n";
  std::ofstream(app / "shoal.toml") << "[env]\nREADY_AFTER = \"2\"\n"
                                       "[health]\npath = \"/health\"\ninterval = \"1s\"\n"
                                       "timeout = \"1s\"\nstart_period = \"10s\"\n"
                                       "unhealthy_threshold = 2\n";

  // v1 turns healthy ~2 s after it starts: the deploy waits for it.
  auto dep = c.cli(n0, {"deploy", app.string(), "--app", "hc"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  CHECK(dep.out.find("(starting)") != std::string::npos);
  CHECK(dep.out.find("(healthy)") != std::string::npos);
  json p = c.ps(n0, "hc");
  auto up = running(p, 1);
  REQUIRE(up.size() == 1);
  CHECK(up[0].value("health", "") == "healthy");  // already when the deploy said done
  CHECK(up[0].value("health_output", "") == "HTTP 200");
  const int old_port = up[0].value("port", 0);
  auto ps_text = c.cli(n0, {"ps", "hc"});
  CHECK(ps_text.out.find("Health") != std::string::npos);
  CHECK(ps_text.out.find("healthy") != std::string::npos);

  // v2 never passes: the deploy fails naming the check, the leader rolls it back (v3 = v1);
  // v1 never stopped serving.
  std::ofstream(app / "shoal.toml") << "[env]\nBROKEN = \"1\"\n"
                                       "[health]\npath = \"/health\"\ninterval = \"1s\"\n"
                                       "timeout = \"1s\"\nunhealthy_threshold = 2\n";
  dep = c.cli(n0, {"deploy", app.string(), "--app", "hc"});
  INFO(dep.out << dep.err);
  CHECK(dep.exit_code == 1);
  CHECK((dep.out + dep.err).find("unhealthy") != std::string::npos);
  CHECK((dep.out + dep.err).find("health check failed 2 times: HTTP 500") != std::string::npos);
  CHECK((dep.out + dep.err).find("rolled back automatically") != std::string::npos);
  p = c.ps(n0, "hc");
  CHECK(p.value("release", 0) == 3);
  up = running(p, 1);
  REQUIRE(up.size() == 1);
  CHECK(up[0].value("port", 0) == old_port);
  CHECK(up[0].value("restarts", -1) == 0);
  auto r = get_port(old_port);
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == "v1 200\n");
}

TEST_CASE("apps: a lost app replica is replaced after the grace and the catalog records it",
          "[integration][apps]") {
  ScopedEnv env(std::vector<std::pair<std::string, std::string>>{{"SHOAL_DEAD_VOTER_GRACE_MS", "2000"}});
  AppsCluster c(4);
  AgentProcess& n0 = *c.agents[0];
  const auto [replicas, outsider] = c.create_app("rep");
  {
    auto dep = c.cli(n0, {"deploy", static_example().string(), "--app", "rep"});
    INFO(dep.out << dep.err);
    REQUIRE(dep.exit_code == 0);
  }

  uint64_t group_id = 0;
  {
    auto list = n0.client(5s).call("GET", "/v1/apps");
    REQUIRE(list.ok());
    for (const auto& a : (*list)["apps"]) {
      if (a.value("name", "") == "rep") group_id = a.value("group", uint64_t{0});
    }
    REQUIRE(group_id != 0);
  }

  // kill -9 a replica (not n0, through which the test asks).
  AgentProcess* victim = nullptr;
  for (const auto& r : replicas) {
    if (r != n0.name()) victim = c.by_name(r);
  }
  REQUIRE(victim != nullptr);
  victim->kill9();
  std::set<std::string> want = replicas;
  want.erase(victim->name());
  want.insert(outsider->name());

  // The leader (a survivor) gives the dead node's seat to the outsider and tells the catalog.
  const auto recorded = [&] {
    auto r = n0.client(5s).call("GET", "/v1/apps");
    if (!r.ok()) return std::set<std::string>{};
    for (const auto& a : (*r)["apps"]) {
      if (a.value("name", "") != "rep") continue;
      std::set<std::string> have;
      for (const auto& n : a["replicas"]) have.insert(n.get<std::string>());
      return have;
    }
    return std::set<std::string>{};
  };
  CHECK(wait_for(60s, [&] { return recorded() == want; }));
  INFO(n0.log() << outsider->log());
  auto group = outsider->client(5s).call("GET", "/v1/raft/groups");
  REQUIRE(group.ok());
  CHECK_THAT(group->dump(), Catch::Contains(std::to_string(group_id)));
  bool logged = false;
  for (auto& a : c.agents) {
    if (a.get() != victim && a->log().find("app-replicas-recorded app=rep") != std::string::npos) {
      logged = true;
    }
  }
  CHECK(logged);
  // The app still answers through the node that was outside it, and still runs.
  CHECK(wait_for(20s, [&] { return running(c.ps(*outsider, "rep")).size() == 1; }));
}


TEST_CASE("apps: a node cut off past the failure timeout stops what moved away when it returns",
          "[integration][apps]") {
  AppsCluster c(4);
  AgentProcess& n0 = *c.agents[0];
  {
    auto dep = c.cli(n0, {"deploy", static_example().string(), "--app", "cut"});
    INFO(dep.out << dep.err);
    REQUIRE(dep.exit_code == 0);
  }
  REQUIRE(c.cli(n0, {"scale", "cut", "web=4"}).exit_code == 0);
  REQUIRE(wait_for(30s, [&] { return running(c.ps(n0, "cut")).size() == 4; }));

  // Cut off a node other than n0 (the test asks through n0): SIGSTOP its agent. Its
  // instance keeps running (it is not the agent's child), as on the far side of a partition.
  json old;
  for (const auto& i : running(c.ps(n0, "cut"))) {
    if (i.value("node", "") != n0.name()) old = i;
  }
  REQUIRE(old.is_object());
  AgentProcess* victim = c.by_name(old.value("node", ""));
  REQUIRE(victim != nullptr);
  const int old_pid = old.value("pid", 0);
  REQUIRE(old_pid > 0);
  REQUIRE(::kill(victim->pid(), SIGSTOP) == 0);

  // Gossip declares it failed; the leader records the instance lost and replaces it.
  const auto state_of = [&](const json& ps, const std::string& id) {
    for (const auto& i : ps.value("instances", json::array())) {
      if (i.value("id", "") == id) return i.value("state", "") + (i.value("desired", false) ? "" : "/undesired");
    }
    return std::string("gone");
  };
  const std::string id = old.value("id", "");
  bool replaced = wait_for(60s, [&] {
    const json ps = c.ps(n0, "cut");
    size_t elsewhere = 0;
    for (const auto& i : running(ps)) elsewhere += i.value("node", "") != victim->name();
    return state_of(ps, id) == "lost/undesired" && elsewhere == 4;
  });
  INFO(c.ps(n0, "cut").dump());
  CHECK(replaced);
  CHECK(::kill(old_pid, 0) == 0);  // still running over there, unaware

  // The partition heals: the returning node is told to stop it, and it goes.
  REQUIRE(::kill(victim->pid(), SIGCONT) == 0);
  CHECK(wait_for(60s, [&] { return ::kill(old_pid, 0) != 0; }));
  CHECK(wait_for(30s, [&] { return state_of(c.ps(n0, "cut"), id) == "gone"; }));
  CHECK(wait_for(10s, [&] { return running(c.ps(n0, "cut")).size() == 4; }));
  INFO(victim->log());
  CHECK(victim->running());
}

}  // namespace
}  // namespace shoal::test
