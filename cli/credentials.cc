#include "cli/credentials.h"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "node/auth/admin_token.h"
#include "node/private_file.h"

namespace shoal::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kMaxCandidates = 32;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

json read_credentials() {
  std::ifstream in(credentials_file());
  if (!in) return json::object();
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = json::parse(ss.str(), nullptr, false);
  return j.is_object() ? j : json::object();
}

// Admin-token files this user may be able to read, most specific first.
std::vector<fs::path> admin_token_candidates() {
  std::vector<fs::path> out;
  if (const std::string dir = env("SHOAL_DATA_DIR"); !dir.empty()) {
    out.push_back(fs::path(dir) / node::auth::kAdminTokenFile);
    out.push_back(fs::path(dir) / node::auth::kNodeTokenFile);
  }
  std::vector<fs::path> roots = {"/var/lib/shoal"};
  if (const std::string home = env("HOME"); !home.empty()) roots.push_back(fs::path(home) / ".shoal");
  roots.push_back("data");
  for (const auto& root : roots) {
    std::error_code ec;
    for (fs::directory_iterator it(root, ec), end; !ec && it != end && out.size() < kMaxCandidates;
         it.increment(ec)) {
      // The cluster's admin token first (it works on every node), then the node's own.
      for (const char* name : {node::auth::kAdminTokenFile, node::auth::kNodeTokenFile}) {
        const fs::path file = it->path() / name;
        if (fs::is_regular_file(file, ec)) out.push_back(file);
      }
    }
  }
  return out;
}

}  // namespace

fs::path credentials_file() {
  if (const std::string xdg = env("XDG_CONFIG_HOME"); !xdg.empty()) {
    return fs::path(xdg) / "shoal" / "credentials.json";
  }
  const std::string home = env("HOME");
  return fs::path(home.empty() ? "." : home) / ".config" / "shoal" / "credentials.json";
}

std::optional<std::string> stored_token(const std::string& base_url) {
  const json creds = read_credentials();
  auto tokens = creds.find("tokens");
  if (tokens == creds.end() || !tokens->is_object()) return std::nullopt;
  auto it = tokens->find(base_url);
  if (it == tokens->end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

Status store_token(const std::string& base_url, const std::string& token) {
  json creds = read_credentials();
  if (!creds.contains("tokens") || !creds["tokens"].is_object()) creds["tokens"] = json::object();
  if (token.empty()) {
    creds["tokens"].erase(base_url);
  } else {
    creds["tokens"][base_url] = token;
  }
  const fs::path file = credentials_file();
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (ec) return Status::io_error("cannot create " + file.parent_path().string() + ": " + ec.message());
  return node::write_private_file(file, creds.dump(2) + "\n", /*sync=*/true);
}

TokenChoice resolve_token(const node::ApiClient& client, const std::string& flag_or_env) {
  if (!flag_or_env.empty()) return {flag_or_env, "--token"};
  if (auto t = stored_token(client.base_url())) return {*t, "login"};
  for (const auto& file : admin_token_candidates()) {
    auto text = node::auth::read_admin_token(file);
    if (!text.ok()) continue;  // not ours to read, or not a token
    node::ApiClient probe = client;
    probe.set_timeout(std::chrono::seconds(5));
    probe.set_token(*text);
    // The agent at --addr says whether this is one of its cluster's tokens.
    if (probe.call("GET", "/v1/token").ok()) return {*text, file.string()};
  }
  return {};
}

}  // namespace shoal::cli
