// cli/credentials.h
//
// Which API token the CLI sends (docs/security.md), first found wins:
//   1. --token, or SHOAL_TOKEN;
//   2. the token `shoal login` stored for this agent address
//      ($XDG_CONFIG_HOME/shoal/credentials.json, else ~/.config/shoal/credentials.json,
//      mode 0600);
//   3. a token of a node's data dir on this machine that this user can read (the cluster's
//      admin-token, then a node's node-token; in SHOAL_DATA_DIR, then /var/lib/shoal/*,
//      ~/.shoal/*, ./data/*): the first the agent at --addr accepts. So root on a node, and
//      the README's tour, need no extra step.
// None: requests go without one, and the agent's 401 says what to do.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "base/status.h"
#include "node/api_client.h"

namespace shoal::cli {

struct TokenChoice {
  std::string token;  // "" when none was found
  std::string from;   // "--token", "login", or the admin-token file's path
};

TokenChoice resolve_token(const node::ApiClient& client, const std::string& flag_or_env);

std::filesystem::path credentials_file();
// The token stored for `base_url`, if any.
std::optional<std::string> stored_token(const std::string& base_url);
// Stores (or with an empty token, removes) the token for `base_url`.
Status store_token(const std::string& base_url, const std::string& token);

}  // namespace shoal::cli
