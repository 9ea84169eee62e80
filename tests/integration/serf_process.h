// tests/integration/serf_process.h
//
// SerfProcess: a real HashiCorp `serf agent` (Debian's serf package) on loopback ports,
// the reference peer for Shoal's gossip. Members are read through `serf members -format
// json` against its RPC port. Only loopback; stopped by pid; every wait is bounded.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace shoal::test {

// A member as a peer reports it: name -> {status, tags}. `tags` are the ones a user set:
// the tags a Shoal agent's apps layer advertises (its API port, free memory, catalog
// replica) are kept apart in `shoal_tags`, so checks compare what the test set.
struct SeenMember {
  std::string status;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> shoal_tags;
};

inline bool is_shoal_internal_tag(const std::string& key) {
  return key == "http" || key == "mem" || key == "cat";
}
using MemberView = std::map<std::string, SeenMember>;

// serf's `members -format json` and Shoal's GET /v1/members list members in the same
// shape: [{"name", "status", "tags": {...}}, ...].
inline MemberView member_view(const nlohmann::json& list) {
  MemberView out;
  for (const auto& m : list) {
    SeenMember seen;
    seen.status = m.value("status", "");
    if (m.contains("tags") && m["tags"].is_object()) {
      for (auto it = m["tags"].begin(); it != m["tags"].end(); ++it) {
        auto& into = is_shoal_internal_tag(it.key()) ? seen.shoal_tags : seen.tags;
        into[it.key()] = it.value().get<std::string>();
      }
    }
    out[m.value("name", "")] = std::move(seen);
  }
  return out;
}

// The serf binary on PATH.
inline std::string serf_binary() { return find_program("serf"); }

// `serf SUBCOMMAND -rpc-addr=RPC_ADDR ARGS...`: the stock CLI against any agent that speaks
// Serf's RPC (a serf agent, or a shoal agent's --rpc-serf).
inline CommandResult serf_cli(const std::string& rpc_addr, const std::string& sub,
                              std::vector<std::string> args = {},
                              std::chrono::milliseconds timeout = 10s) {
  std::vector<std::string> argv = {serf_binary(), sub, "-rpc-addr=" + rpc_addr};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command_argv(argv, timeout);
}

// Keyring commands run an internal query whose deadline a loaded machine can miss; each
// such step is idempotent, so a test runs it again, as an operator would.
template <typename Run>
CommandResult until_ok(Run run, int attempts = 3) {
  CommandResult r;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    r = run();
    if (r.exit_code == 0) break;
  }
  return r;
}

class SerfProcess {
 public:
  static std::unique_ptr<SerfProcess> start(const std::string& name,
                                            std::vector<std::string> extra = {}) {
    std::unique_ptr<SerfProcess> p(new SerfProcess);
    p->name_ = name;
    p->bind_port_ = free_loopback_port();
    p->rpc_port_ = free_loopback_port();
    p->dir_ = make_temp_dir("serf-" + name);
    std::vector<std::string> argv = {serf_binary(), "agent", "-node=" + name,
                                     "-bind=" + p->gossip_addr(), "-rpc-addr=" + p->rpc_addr(),
                                     "-profile=local", "-log-level=debug"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    p->pid_ = spawn(argv, p->dir_ / "serf.log", p->dir_ / "serf.log");
    return p;
  }

  ~SerfProcess() {
    kill9();
    if (std::getenv("SHOAL_KEEP_TEST_DIRS") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // Runs `serf SUBCOMMAND -rpc-addr=... ARGS` against this agent.
  CommandResult cli(const std::string& sub, std::vector<std::string> args = {}) const {
    return serf_cli(rpc_addr(), sub, std::move(args));
  }

  MemberView members() const {
    auto r = cli("members", {"-format=json"});
    if (r.exit_code != 0) return {};
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    if (doc.is_discarded() || !doc.contains("members")) return {};
    return member_view(doc["members"]);
  }

  bool wait_ready(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (cli("members").exit_code == 0) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    wait_exit(pid_, 10s);
    pid_ = -1;
  }

  const std::string& name() const { return name_; }
  std::string gossip_addr() const { return "127.0.0.1:" + std::to_string(bind_port_); }
  std::string rpc_addr() const { return "127.0.0.1:" + std::to_string(rpc_port_); }
  std::string log() const { return read_file(dir_ / "serf.log"); }

 private:
  SerfProcess() = default;

  std::string name_;
  int bind_port_ = 0;
  int rpc_port_ = 0;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

// What a Shoal agent reports through GET /v1/members.
inline MemberView shoal_members(const AgentProcess& agent) {
  auto r = agent.client(3s).call("GET", "/v1/members");
  if (!r.ok()) return {};
  const nlohmann::json& doc = *r;
  return member_view(doc.is_object() && doc.contains("members") ? doc["members"] : doc);
}

// Polls `view` until `pred` holds or `timeout` passes; returns whether it held.
template <typename View, typename Pred>
bool eventually(View view, Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred(view())) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
}

inline bool has_status(const MemberView& v, const std::string& name, const std::string& status) {
  auto it = v.find(name);
  return it != v.end() && it->second.status == status;
}

}  // namespace shoal::test
