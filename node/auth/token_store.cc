#include "node/auth/token_store.h"

namespace shoal::node::auth {

std::string Identity::describe() const {
  return name.empty() ? id : name + " (" + id + ")";
}

bool TokenStore::update(uint64_t version, TokenTable table) {
  auto fresh = std::make_shared<const TokenTable>(std::move(table));
  std::lock_guard lock(mu_);
  if (version <= version_) return false;
  version_ = version;
  table_ = std::move(fresh);
  return true;
}

void TokenStore::set_local(const TokenParts& token, std::string name) {
  std::lock_guard lock(mu_);
  local_id_ = token.id;
  local_hash_ = hash_secret(token.secret);
  local_name_ = std::move(name);
}

uint64_t TokenStore::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

size_t TokenStore::size() const {
  std::lock_guard lock(mu_);
  return table_->size();
}

Result<Identity> TokenStore::authenticate(std::string_view authorization_header) const {
  if (authorization_header.empty()) {
    return Status::unauthenticated(
        "this request needs an API token: send \"Authorization: Bearer TOKEN\" (shoal login, "
        "or SHOAL_TOKEN for the CLI)");
  }
  auto text = token_of_header(authorization_header);
  if (!text) {
    return Status::unauthenticated(
        "the Authorization header is not \"Bearer TOKEN\" (nor Basic with the token as password)");
  }
  auto parts = parse_token(*text);
  if (!parts.ok()) return Status::unauthenticated("bad API token: " + parts.status().message());
  std::shared_ptr<const TokenTable> table;
  uint64_t version = 0;
  std::string local_id, local_hash, local_name;
  {
    std::lock_guard lock(mu_);
    table = table_;
    version = version_;
    local_id = local_id_;
    local_hash = local_hash_;
    local_name = local_name_;
  }
  // Hash even when the id is unknown, so the answer's timing does not tell ids apart.
  const std::string hash = hash_secret(parts->secret);
  if (!local_id.empty() && parts->id == local_id && same_hash(hash, local_hash)) {
    return Identity{local_id, local_name, {Scope{Scope::Kind::admin, {}}}, /*local=*/true};
  }
  if (version == 0) {
    return Status::unavailable(
        "this node has not received the cluster's tokens yet (it may have just joined); "
        "try again in a moment");
  }
  auto it = table->find(parts->id);
  if (it == table->end() || !same_hash(hash, it->second.hash)) {
    return Status::unauthenticated("API token " + parts->id + " is not valid (revoked, or never "
                                   "issued by this cluster)");
  }
  return Identity{it->first, it->second.name, it->second.scopes};
}

}  // namespace shoal::node::auth
