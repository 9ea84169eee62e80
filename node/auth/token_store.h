// node/auth/token_store.h
//
// TokenStore: every node's copy of the cluster's token table (ids, hashes, scopes, names),
// against which it checks each API request itself, so a request needs no round trip to
// the catalog. Nodes holding the catalog fill it as they apply catalog entries; the others
// get it pushed by the catalog leader (docs/security.md).
//
// Contract:
//  - update() takes a table only if its version is newer than the one held: pushes that
//    cross on the wire never bring a revoked token back.
//  - authenticate() never echoes a secret in its errors. unauthenticated: no bearer token,
//    a malformed one, or one not in the table (never issued, or revoked); unavailable: no
//    table has arrived yet (a node that just joined). The node-local token always works.
//  - Thread-safe; readers never wait for a writer longer than a pointer swap.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "node/auth/token.h"

namespace shoal::node::auth {

struct TokenEntry {
  std::string hash;  // hash_secret() of the secret
  std::vector<Scope> scopes;
  std::string name;
  bool operator==(const TokenEntry&) const = default;
};

using TokenTable = std::map<std::string, TokenEntry>;  // id -> entry

struct Identity {
  std::string id;
  std::string name;
  std::vector<Scope> scopes;
  // The node-local token (set_local()): valid on this node only, so a request forwarded
  // for it goes as this node's own call rather than with the token.
  bool local = false;
  // "name (id)" for audit lines and events.
  std::string describe() const;
};

class TokenStore {
 public:
  bool update(uint64_t version, TokenTable table);
  // The node-local admin token (DATA_DIR/node-token, or --local-token-file): accepted here
  // whatever the cluster's table says, and before any table arrives, so root on a node
  // always reaches its own agent (a Shoal node among serf agents has no catalog at all).
  void set_local(const TokenParts& token, std::string name);
  uint64_t version() const;
  bool loaded() const { return version() > 0; }
  Result<Identity> authenticate(std::string_view authorization_header) const;
  // Tokens known, for metrics.
  size_t size() const;

 private:
  mutable std::mutex mu_;
  uint64_t version_ = 0;
  std::shared_ptr<const TokenTable> table_ = std::make_shared<const TokenTable>();
  std::string local_id_, local_hash_, local_name_;
};

}  // namespace shoal::node::auth
