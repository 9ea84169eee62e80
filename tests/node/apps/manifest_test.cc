// Tests of node/apps/manifest: Procfile and shoal.toml parsing, every error, the single
// binary rule, and the JSON form stored in releases.
#include "node/apps/manifest.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::node::apps;
using json = nlohmann::json;

namespace {

std::string error_of(const Result<Manifest>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().is(Status::Code::invalid_argument));
  return r.status().message();
}

struct TempDir {
  TempDir() : path(test::make_temp_dir("shoal-manifest")) {}
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text, bool executable = false) const {
    std::ofstream(path / name) << text;
    if (executable) ::chmod((path / name).c_str(), 0755);
  }
  std::filesystem::path path;
};

constexpr const char* kFullToml = R"(
build = "pip install -r requirements.txt"
packages = ["libpq5", "imagemagick"]
metrics_path = "/metrics"

[env]
GREETING = "hello"

[formation]
web = 2
worker = 1

[limits]
memory_mb = 256
cpu_millis = 500

[limits.worker]
memory_mb = 1024

[health]
type = "http"
path = "/healthz"
interval = "5s"
timeout = "1s"
start_period = "30s"
healthy_threshold = 2
unhealthy_threshold = 4
)";

}  // namespace

TEST_CASE("manifest: a Procfile with comments, blanks and CRLF", "[apps][manifest]") {
  auto m = parse_manifest(
      "# the app\r\n\nweb: python3 server.py --port $PORT\r\n  worker:  ./work  \n", "");
  REQUIRE(m.ok());
  REQUIRE(m->processes.size() == 2);
  CHECK(m->processes[0] == ProcessType{"web", "python3 server.py --port $PORT"});
  CHECK(m->processes[1] == ProcessType{"worker", "./work"});
  CHECK(m->types() == std::vector<std::string>{"web", "worker"});
  CHECK(m->default_count("web") == 1);
  CHECK(m->default_count("worker") == 0);
  CHECK(m->limits_for("web") == Limits{kDefaultMemoryMb, kDefaultCpuMillis});
  CHECK_FALSE(m->build);
  CHECK_FALSE(m->health);
  CHECK(m->packages.empty());
}

TEST_CASE("manifest: the full shoal.toml", "[apps][manifest]") {
  auto m = parse_manifest("web: ./web\nworker: ./work\n", kFullToml);
  REQUIRE(m.ok());
  CHECK(m->build == "pip install -r requirements.txt");
  CHECK(m->packages == std::vector<std::string>{"libpq5", "imagemagick"});
  CHECK(m->metrics_path == "/metrics");
  CHECK(m->env == std::map<std::string, std::string>{{"GREETING", "hello"}});
  CHECK(m->default_count("web") == 2);
  CHECK(m->default_count("worker") == 1);
  CHECK(m->limits_for("web") == Limits{256, 500});
  CHECK(m->limits_for("worker") == Limits{1024, 500});  // cpu from [limits]
  REQUIRE(m->health);
  CHECK(m->health->type == "http");
  CHECK(m->health->process == "web");
  CHECK(m->health->path == "/healthz");
  CHECK(m->health->interval_ms == 5000);
  CHECK(m->health->timeout_ms == 1000);
  CHECK(m->health->start_period_ms == 30000);
  CHECK(m->health->healthy_threshold == 2);
  CHECK(m->health->unhealthy_threshold == 4);

  auto defaults = parse_manifest("web: ./web\n", "[health]\n");
  REQUIRE(defaults.ok());
  CHECK(*defaults->health == HealthCheck{});
  auto tcp = parse_manifest("api: ./api\n", "[health]\ntype = \"tcp\"\nprocess = \"api\"\n");
  REQUIRE(tcp.ok());
  CHECK(tcp->health->type == "tcp");
}

TEST_CASE("manifest: Procfile errors name the line", "[apps][manifest]") {
  CHECK(error_of(parse_manifest("web: a\nnonsense\n", "")) ==
        "Procfile line 2: expected 'type: command', got 'nonsense'");
  CHECK(error_of(parse_manifest("web: a\n# c\nweb: b\n", "")) ==
        "Procfile line 3: process type 'web' is defined twice (first on line 1)");
  CHECK_THAT(error_of(parse_manifest("Web: a\n", "")),
             Catch::StartsWith("Procfile line 1: process type 'Web' must start with a-z"));
  CHECK(error_of(parse_manifest("\nweb:   \n", "")) ==
        "Procfile line 2: process type 'web' has no command");
  CHECK(error_of(parse_manifest("# nothing\n\n", "")) == "Procfile defines no process types");
  CHECK_THAT(error_of(parse_manifest(std::string(70000, '#'), "")),
             Catch::Contains("over the limit"));
}

TEST_CASE("manifest: shoal.toml errors name the key", "[apps][manifest]") {
  auto err = [](const std::string& toml) {
    return error_of(parse_manifest("web: ./web\nworker: ./w\n", toml));
  };
  CHECK(err("bulid = \"make\"\n") == "shoal.toml: unknown key 'bulid'");
  CHECK(err("[limits]\nmemroy_mb = 3\n") == "shoal.toml: unknown key 'limits.memroy_mb'");
  CHECK(err("[limits.worker]\nram = 3\n") == "shoal.toml: unknown key 'limits.worker.ram'");
  CHECK(err("[health]\nport = 3\n") == "shoal.toml: unknown key 'health.port'");
  CHECK_THAT(err("build = 3\n"), Catch::Contains("'build' must be a string"));
  CHECK_THAT(err("[limits]\nmemory_mb = 1\n"),
             Catch::Contains("'limits.memory_mb' must be an integer from 16"));
  CHECK_THAT(err("[formation]\nweb = 101\n"),
             Catch::Contains("'formation.web' must be an integer from 0 to 100"));
  CHECK_THAT(err("[formation]\nclock = 1\n"),
             Catch::Contains(
                 "formation.clock: 'clock' is not a process type of the Procfile (web, worker)"));
  CHECK_THAT(err("[limits.clock]\nmemory_mb = 64\n"),
             Catch::Contains("limits.clock: 'clock' is not a process type"));
  CHECK_THAT(err("packages = [\"libpq5\", \"Bad Name\"]\n"),
             Catch::Contains("'Bad Name' is not a Debian package name"));
  CHECK_THAT(err("packages = \"libpq5\"\n"), Catch::Contains("'packages' must be a list"));
  CHECK_THAT(err("[env]\nPORT = \"1\"\n"), Catch::Contains("env: config var 'PORT' is reserved"));
  CHECK_THAT(err("[env]\nX = 1\n"), Catch::Contains("'env.X' must be a string"));
  CHECK_THAT(err("[health]\ntype = \"udp\"\n"),
             Catch::Contains("health.type must be http, tcp or command"));
  CHECK_THAT(err("[health]\ntype = \"command\"\n"), Catch::Contains("health.command is needed"));
  CHECK_THAT(err("[health]\ntype = \"tcp\"\npath = \"/x\"\n"),
             Catch::Contains("path applies to http"));
  CHECK_THAT(err("[health]\npath = \"x\"\n"), Catch::Contains("health.path must start with '/'"));
  CHECK_THAT(err("[health]\ninterval = \"1s\"\ntimeout = \"2s\"\n"),
             Catch::Contains("longer than health.interval"));
  CHECK_THAT(err("[health]\ninterval = \"soon\"\n"), Catch::Contains("'health.interval'"));
  CHECK_THAT(err("[health]\nprocess = \"db\"\n"),
             Catch::Contains("health.process 'db' is not a process type"));
  CHECK_THAT(err("metrics_path = \"metrics\"\n"),
             Catch::Contains("metrics_path must start with '/'"));
  CHECK_THAT(err("metrics_path = \"/a b\"\n"),
             Catch::Contains("metrics_path must be up to 1024 printable characters"));
  CHECK_THAT(err("[limits\n"), Catch::StartsWith("shoal.toml line 1: "));
  CHECK_THAT(err("env = 3\n"), Catch::Contains("'env' must be a table"));
}

TEST_CASE("manifest: load_manifest reads the directory", "[apps][manifest]") {
  TempDir d;
  d.write("Procfile", "web: ./server\n");
  d.write("shoal.toml", "[formation]\nweb = 3\n");
  d.write("server", "#!/bin/sh\n", true);
  d.write("README", "hi");
  auto m = load_manifest(d.path);
  REQUIRE(m.ok());
  CHECK(m->default_count("web") == 3);

  d.write("shoal.toml", "nope = 1\n");
  CHECK(error_of(load_manifest(d.path)) == "shoal.toml: unknown key 'nope'");
}

TEST_CASE("manifest: a lone executable runs as web", "[apps][manifest]") {
  TempDir d;
  d.write("hello-server",
          "\x7f"
          "ELF",
          true);
  auto m = load_manifest(d.path);
  REQUIRE(m.ok());
  CHECK(m->processes == std::vector<ProcessType>{{"web", "./hello-server"}});

  d.write("shoal.toml", "[limits]\nmemory_mb = 64\n");  // a shoal.toml may sit beside it
  m = load_manifest(d.path);
  REQUIRE(m.ok());
  CHECK(m->limits_for("web").memory_mb == 64);

  TempDir odd;
  odd.write("my server", "x", true);
  m = load_manifest(odd.path);
  REQUIRE(m.ok());
  CHECK(*m->command("web") == "./'my server'");
}

TEST_CASE("manifest: no Procfile and no single executable", "[apps][manifest]") {
  TempDir empty;
  CHECK_THAT(error_of(load_manifest(empty.path)),
             Catch::StartsWith("no Procfile and not a single executable: ") &&
                 Catch::EndsWith("holds 0 files"));
  TempDir two;
  two.write("a", "x", true);
  two.write("b", "x", true);
  CHECK_THAT(error_of(load_manifest(two.path)), Catch::EndsWith("holds 2 files: a, b"));
  TempDir plain;
  plain.write("app.py", "print(1)");
  CHECK(error_of(load_manifest(plain.path)) ==
        "no Procfile and not a single executable: 'app.py' is not a regular executable file");
  TempDir sub;
  std::filesystem::create_directory(sub.path / "bin");
  CHECK_THAT(error_of(load_manifest(sub.path)),
             Catch::Contains("'bin' is not a regular executable"));
  CHECK_THAT(error_of(load_manifest(sub.path / "nope")), Catch::Contains("is not a directory"));
}

TEST_CASE("manifest: JSON round trip, and bad JSON refused", "[apps][manifest]") {
  auto m = parse_manifest("web: ./web\nworker: ./work\n", kFullToml);
  REQUIRE(m.ok());
  const json j = to_json(*m);
  auto back = manifest_from_json(j);
  REQUIRE(back.ok());
  CHECK(*back == *m);
  auto plain = parse_manifest("web: ./web\n", "");
  REQUIRE(plain.ok());
  auto plain_back = manifest_from_json(json::from_msgpack(json::to_msgpack(to_json(*plain))));
  REQUIRE(plain_back.ok());
  CHECK(*plain_back == *plain);

  json bad = j;
  bad["processes"] = json::array();
  CHECK_THAT(manifest_from_json(bad).status().message(), Catch::Contains("no process types"));
  bad = j;
  bad["formation"]["clock"] = 1;
  CHECK_THAT(manifest_from_json(bad).status().message(),
             Catch::Contains("'clock' is not a process type"));
  bad = j;
  bad["limits"]["memory_mb"] = "lots";
  CHECK_THAT(manifest_from_json(bad).status().message(),
             Catch::Contains("'memory_mb' must be an integer"));
  bad = j;
  bad.erase("env");
  CHECK_THAT(manifest_from_json(bad).status().message(), Catch::Contains("'env' is missing"));
  CHECK_FALSE(manifest_from_json(json::array()).ok());
  CHECK_FALSE(manifest_from_json(json("web")).ok());
}

TEST_CASE("manifest: [deploy] defaults, values, bounds and JSON", "[apps][manifest][rolling]") {
  auto plain = parse_manifest("web: ./web\n", "");
  REQUIRE(plain.ok());
  CHECK(plain->deploy == DeployPolicy{1, 0, 10'000, 120'000});

  auto m = parse_manifest("web: ./web\n",
                          "[deploy]\nmax_surge = 2\nmax_unavailable = 1\nstop_grace = \"3s\"\n"
                          "healthy_deadline = \"45s\"\n");
  REQUIRE(m.ok());
  CHECK(m->deploy == DeployPolicy{2, 1, 3'000, 45'000});
  auto back = manifest_from_json(to_json(*m));
  REQUIRE(back.ok());
  CHECK(*back == *m);

  // A release stored before [deploy] existed reads with the defaults.
  json old = to_json(*plain);
  old.erase("deploy");
  auto old_back = manifest_from_json(old);
  REQUIRE(old_back.ok());
  CHECK(old_back->deploy == DeployPolicy{});

  auto err = [](std::string_view toml) { return error_of(parse_manifest("web: ./web\n", toml)); };
  CHECK_THAT(err("[deploy]\nmax_surge = 0\n"), Catch::Contains("both 0"));
  CHECK_THAT(err("[deploy]\nmax_surge = -1\n"), Catch::Contains("'deploy.max_surge' must be"));
  CHECK_THAT(err("[deploy]\nmax_unavailable = 101\n"),
             Catch::Contains("'deploy.max_unavailable' must be"));
  CHECK_THAT(err("[deploy]\nstop_grace = \"10h\"\n"), Catch::Contains("deploy.stop_grace must be"));
  CHECK_THAT(err("[deploy]\nstop_grace = \"100ms\"\n"),
             Catch::Contains("deploy.stop_grace must be"));
  CHECK_THAT(err("[deploy]\nstop_grace = 5\n"), Catch::Contains("'deploy.stop_grace' must be a string"));
  CHECK_THAT(err("[deploy]\nhealthy_deadline = \"1s\"\n"),
             Catch::Contains("deploy.healthy_deadline must be"));
  CHECK_THAT(err("[deploy]\nmax_sruge = 1\n"), Catch::Contains("unknown key 'deploy.max_sruge'"));
  CHECK_THAT(err("deploy = 1\n"), Catch::Contains("'deploy' must be a table"));

  json bad = to_json(*m);
  bad["deploy"]["max_surge"] = 0;
  bad["deploy"]["max_unavailable"] = 0;
  CHECK_THAT(manifest_from_json(bad).status().message(), Catch::Contains("both 0"));
}

TEST_CASE("manifest: an app without a Procfile is detected by its files", "[apps][manifest][detect]") {
  SECTION("python: requirements.txt, a virtualenv, app.py run with it") {
    TempDir d;
    d.write("requirements.txt", "");
    d.write("app.py", "print(1)");
    d.write("main.py", "print(2)");  // app.py comes first
    auto m = load_manifest(d.path);
    REQUIRE(m.ok());
    CHECK(*m->command("web") == "exec .venv/bin/python app.py");
    REQUIRE(m->build);
    CHECK_THAT(*m->build, Catch::StartsWith("python3 -m venv --copies .venv && ") &&
                              Catch::EndsWith("-r requirements.txt"));
    // shoal.toml's build wins over the detected one; its other keys apply as always.
    d.write("shoal.toml", "build = \"make\"\n[formation]\nweb = 2\n");
    m = load_manifest(d.path);
    REQUIRE(m.ok());
    CHECK(*m->build == "make");
    CHECK(m->default_count("web") == 2);
  }
  SECTION("python: pyproject.toml, and no entry point is an error naming the fix") {
    TempDir d;
    d.write("pyproject.toml", "[project]\nname = \"x\"\n");
    d.write("server.py", "");
    auto m = load_manifest(d.path);
    REQUIRE(m.ok());
    CHECK(*m->command("web") == "exec .venv/bin/python server.py");
    CHECK_THAT(*m->build, Catch::EndsWith("--no-build-isolation ."));
    TempDir none;
    none.write("requirements.txt", "flask\n");
    CHECK_THAT(error_of(load_manifest(none.path)),
               Catch::Contains("none of app.py, main.py, server.py") && Catch::Contains("Procfile"));
  }
  SECTION("node, go and a static site") {
    TempDir node;
    node.write("package.json", "{}");
    auto m = load_manifest(node.path);
    REQUIRE(m.ok());
    CHECK(*m->command("web") == "exec npm start");
    CHECK(*m->build == "npm install --no-audit --no-fund");
    node.write("package-lock.json", "{}");
    CHECK(*load_manifest(node.path)->build == "npm ci --no-audit --no-fund");

    TempDir go;
    go.write("go.mod", "module x\n");
    go.write("main.go", "package main\n");
    m = load_manifest(go.path);
    REQUIRE(m.ok());
    CHECK(*m->build == "go build -o .shoal-web .");
    CHECK(*m->command("web") == "exec ./.shoal-web");

    TempDir site;
    site.write("index.html", "<h1>hi</h1>");
    site.write("style.css", "");
    m = load_manifest(site.path);
    REQUIRE(m.ok());
    CHECK_FALSE(m->build);
    CHECK_THAT(*m->command("web"), Catch::StartsWith("exec python3 -m http.server \"$PORT\""));
  }
  SECTION("a Procfile is always taken as it is") {
    TempDir d;
    d.write("requirements.txt", "");
    d.write("Procfile", "web: gunicorn app:app\n");
    auto m = load_manifest(d.path);
    REQUIRE(m.ok());
    CHECK(*m->command("web") == "gunicorn app:app");
    CHECK_FALSE(m->build);
  }
}
