// A cluster of real agents on loopback for the apps tests (issues 7 and 8), and the
// helpers they share: deploy through any node, read `ps`, reach instances on their ports,
// find instance processes on this machine.
#pragma once

#include <catch2/catch.hpp>

#include <dirent.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "node/http_client.h"
#include "tests/support/process.h"

namespace shoal::test {

using nlohmann::json;
namespace fs = std::filesystem;

template <typename F>
inline bool wait_for(std::chrono::milliseconds limit, F ok) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

inline fs::path source_dir() { return SHOAL_SOURCE_DIR; }
inline fs::path static_example() { return fs::path(shoal_binary()).parent_path().parent_path() / "examples/hello-static"; }

struct AppsCluster {
  std::vector<std::unique_ptr<AgentProcess>> agents;
  fs::path scratch = make_temp_dir("shoal-apps");

  // `extra`: flags every agent gets (e.g. {"--router-tls", "127.0.0.1:0"}).
  explicit AppsCluster(size_t n, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> common = {"--log-level", "debug"};
    common.insert(common.end(), extra.begin(), extra.end());
    agents.push_back(AgentProcess::start("n0", common));
    REQUIRE(agents[0]->wait_healthy());
    for (size_t i = 1; i < n; ++i) {
      auto args = common;
      args.insert(args.end(), {"--join", agents[0]->gossip_addr()});
      agents.push_back(AgentProcess::start("n" + std::to_string(i), args));
    }
    for (auto& a : agents) REQUIRE(a->wait_healthy());
    // Every node reaches the catalog (through a voter) once gossip has spread the tags.
    for (auto& a : agents) {
      REQUIRE(wait_for(30s, [&] {
        auto r = a->client(3s).call("GET", "/v1/apps");
        return r.ok();
      }));
    }
  }
  ~AppsCluster() {
    for (auto& a : agents) {
      if (a->running()) a->terminate(30s);  // a node that leaves stops its instances
    }
    std::error_code ec;
    fs::remove_all(scratch, ec);
  }

  // Creates `app` before its first deploy (so a node without a replica is known): its
  // three replicas, and a node that holds none of them.
  std::pair<std::set<std::string>, AgentProcess*> create_app(const std::string& app) {
    const json body = {{"name", app}};
    auto created = agents[0]->client(10s).call("POST", "/v1/apps", {}, &body);
    REQUIRE(created.ok());
    std::set<std::string> replicas;
    for (const auto& r : created->at("replicas")) replicas.insert(r.get<std::string>());
    REQUIRE(replicas.size() == 3);
    AgentProcess* outsider = nullptr;
    for (auto& a : agents) {
      if (!replicas.count(a->name())) outsider = a.get();
    }
    REQUIRE(outsider != nullptr);
    return {replicas, outsider};
  }

  // Every node's data dir: where its instances run (instance_processes()).
  std::vector<fs::path> data_dirs() const {
    std::vector<fs::path> out;
    for (const auto& a : agents) out.push_back(a->data_dir());
    return out;
  }

  AgentProcess* by_name(const std::string& name) {
    for (auto& a : agents) {
      if (a->name() == name) return a.get();
    }
    return nullptr;
  }

  CommandResult cli(AgentProcess& via, std::vector<std::string> args, std::chrono::milliseconds timeout = 120s) {
    args.insert(args.begin() + 1, {"--addr", via.http_url()});
    return run_command(args, timeout);
  }

  json ps(AgentProcess& via, const std::string& app) {
    auto r = via.client(5s).call("GET", "/v1/apps/" + app + "/ps");
    return r.ok() ? *r : json::object();
  }
};

// examples/health-web in `dir`, with `extra_env` ("KEY = \"value\"\n" lines) added to its
// [env] table: each different value makes a new release (BROKEN = "1" one that never turns
// healthy).
inline void write_health_web(const fs::path& dir, const std::string& extra_env) {
  fs::create_directories(dir);
  const fs::path example = source_dir() / "examples/health-web";
  fs::copy_file(example / "Procfile", dir / "Procfile", fs::copy_options::overwrite_existing);
  fs::copy_file(example / "server.py", dir / "server.py", fs::copy_options::overwrite_existing);
  std::string toml = read_file(example / "shoal.toml");
  const std::string env_table = "[env]\n";
  const auto at = toml.find(env_table);
  REQUIRE(at != std::string::npos);
  toml.insert(at + env_table.size(), extra_env);
  std::ofstream(dir / "shoal.toml", std::ios::trunc) << toml;
}

// The app's entry in a node's GET /v1/routes, or null.
inline json app_routes(AgentProcess& node, const std::string& app) {
  auto r = node.client(3s).call("GET", "/v1/routes");
  if (!r.ok()) return nullptr;
  const json apps = r->value("apps", json::array());  // a local: GCC's maybe-uninitialized
  for (const auto& a : apps) {
    if (a.value("app", "") == app) return a;
  }
  return nullptr;
}

// Instances of `release` (0: any) that are desired and running.
inline std::vector<json> running(const json& ps, uint64_t release = 0) {
  std::vector<json> out;
  const json list = ps.contains("instances") ? ps["instances"] : json::array();
  for (const auto& i : list) {
    if (!i.value("desired", false) || i.value("state", "") != "running") continue;
    if (release != 0 && i.value("release", uint64_t{0}) != release) continue;
    out.push_back(i);
  }
  return out;
}

// GET on an instance's port. `running` means its process started, not that it listens
// yet (health checks are issue 8's), so a refused connection is retried for a while.
inline Result<node::HttpResponse> get_port(int port, const std::string& path = "/") {
  node::HttpExchange ex;
  ex.target = path;
  ex.timeout = 3s;
  Result<node::HttpResponse> r = Status::unavailable("not tried");
  for (int attempt = 0; attempt < 100; ++attempt) {
    r = node::http_request("127.0.0.1", port, ex);
    if (r.ok()) return r;
    std::this_thread::sleep_for(100ms);
  }
  return r;
}

// Processes whose environment says they are instances of `app` and that run in a
// directory under one of `data_dirs` (the nodes of one cluster: tests run in parallel,
// and another test's cluster may have an app of the same name), as "INSTANCE@PID".
inline std::set<std::string> instance_processes(const std::string& app,
                                                const std::vector<fs::path>& data_dirs) {
  std::set<std::string> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    const std::string env = read_file(fs::path("/proc") / e->d_name / "environ");
    if (env.find(std::string("SHOAL_APP=") + app + '\0') == std::string::npos) continue;
    std::error_code ec;
    const std::string cwd = fs::read_symlink(fs::path("/proc") / e->d_name / "cwd", ec).string();
    const bool ours =
        !ec && std::any_of(data_dirs.begin(), data_dirs.end(), [&](const fs::path& dir) {
          return cwd.rfind(dir.string() + "/", 0) == 0;
        });
    if (!ours) continue;
    const auto at = env.find("SHOAL_INSTANCE=");
    if (at == std::string::npos) continue;
    const std::string cmdline = read_file(fs::path("/proc") / e->d_name / "cmdline");
    if (cmdline.rfind("sh", 0) == 0 || cmdline.find("/sh") == 0) continue;  // the `sh -c`
    out.insert(env.substr(at + 15, env.find('\0', at) - at - 15) + "@" + e->d_name);
  }
  ::closedir(d);
  return out;
}

// A machine's crash, as far as one machine can play several: SIGKILL the agent and every
// process that belongs to its node (shims, whose command line names the node's data dir,
// and instances, which run in a directory under it). Instances outlive an agent that dies
// alone; a node that dies takes them along.
inline void kill_node(AgentProcess& agent) {
  const std::string dir = agent.data_dir().string();
  agent.kill9();
  for (int pass = 0; pass < 3; ++pass) {  // a shim may fork once more before it dies
    DIR* d = ::opendir("/proc");
    if (d == nullptr) return;
    while (dirent* e = ::readdir(d)) {
      if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
      const fs::path proc = fs::path("/proc") / e->d_name;
      std::error_code ec;
      const std::string cwd = fs::read_symlink(proc / "cwd", ec).string();
      const std::string cmdline = read_file(proc / "cmdline");
      if ((!ec && cwd.rfind(dir, 0) == 0) || cmdline.find(dir) != std::string::npos) {
        ::kill(std::stoi(e->d_name), SIGKILL);
      }
    }
    ::closedir(d);
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace shoal::test
