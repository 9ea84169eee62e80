// node/auth/admin_token.h
//
// DATA_DIR/admin-token: the bootstrap admin token, written (mode 0600) by the node that
// created the cluster, so that root on that node, and the CLI run there, can act without
// an extra step; DATA_DIR/node-token: the node-local token every node has. The CLI finds
// both with read_admin_token().
#pragma once

#include <filesystem>
#include <string>

#include "base/status.h"

namespace shoal::node::auth {

inline constexpr const char* kAdminTokenFile = "admin-token";
// DATA_DIR/node-token: every node's node-local admin token (TokenStore::set_local), made at
// its first start.
inline constexpr const char* kNodeTokenFile = "node-token";

// The token in `file` (surrounding white space dropped). not_found if there is no file;
// permission_denied if it cannot be read; invalid_argument if it does not hold a token.
Result<std::string> read_admin_token(const std::filesystem::path& file);
// Writes `token` to `file` with mode 0600 (a temporary file, synced, then renamed).
Status write_admin_token(const std::filesystem::path& file, const std::string& token);
// The token in `file`, made (random) and written first if there is no file.
Result<std::string> ensure_token_file(const std::filesystem::path& file);

}  // namespace shoal::node::auth
