// node/apps/catalog_tokens.h
//
// CatalogTokens: the API tokens of the cluster, as the catalog keeps them (docs/security.md):
// id -> hash of the secret, scopes, name, when and by whom it was made. Never the secret.
// Kept inside CatalogState, so every catalog replica holds the same table, and its version
// (bumped by every change) orders the copies the catalog leader pushes to other nodes.
//
// The bootstrap admin token is added once in the cluster's life: a second bootstrap is
// refused, so a revoked bootstrap token can never come back through a retry.
//
// Contract: deterministic; a command that fails changes nothing; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "node/auth/token_store.h"

namespace shoal::node::apps {

inline constexpr size_t kMaxTokens = 10'000;

struct TokenRecord {
  std::string hash;
  std::vector<std::string> scopes;  // as parse_scope() reads them
  std::string name;                 // unique when not empty
  int64_t created_ms = 0;
  std::string created_by;  // the identity that made it ("bootstrap" for the first)
  bool operator==(const TokenRecord&) const = default;
};

// [id, name] invalid: bad id, hash, scope or name; exists: the id or the name is taken;
// conflict: `bootstrap` and the cluster already had its bootstrap token (unless it is this
// very token: a retry of a committed bootstrap is ok).
Bytes catalog_add_token(std::string_view id, const TokenRecord& token, bool bootstrap);
// `which`: an id or a name. [id, name] not_found.
Bytes catalog_revoke_token(std::string_view which, std::string_view revoked_by, int64_t now_ms);

class CatalogTokens {
 public:
  bool is_token_op(std::string_view op) const {
    return op == "add_token" || op == "revoke_token";
  }
  Bytes apply_op(const nlohmann::json& command);

  const std::map<std::string, TokenRecord>& tokens() const { return tokens_; }
  uint64_t version() const { return version_; }
  // The id of the bootstrap token, "" before it was added (it stays after a revocation).
  const std::string& bootstrap_id() const { return bootstrap_id_; }
  // What nodes check requests against.
  auth::TokenTable table() const;
  // The table as the catalog leader pushes it (POST /v1/internal/tokens), and back.
  nlohmann::json table_json() const;
  static Result<std::pair<uint64_t, auth::TokenTable>> table_from_json(const nlohmann::json& j);

  nlohmann::json to_json() const;
  static Result<CatalogTokens> from_json(const nlohmann::json& j);
  bool operator==(const CatalogTokens&) const = default;

 private:
  std::map<std::string, TokenRecord> tokens_;
  uint64_t version_ = 0;
  std::string bootstrap_id_;
};

}  // namespace shoal::node::apps
