#include "node/apps/catalog_tokens.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "node/apps/command_result.h"
#include "node/apps/json_fields.h"

namespace shoal::node::apps {

using json = nlohmann::json;

namespace {

constexpr size_t kMaxNameBytes = 64;
constexpr size_t kMaxByBytes = 256;

Bytes invalid(std::string_view msg) { return error_result(ErrorCode::invalid, msg); }

Status check_name(std::string_view name) {
  if (name.empty()) return Status();
  const bool chars = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
  if (!chars || name.size() > kMaxNameBytes) {
    return Status::invalid_argument("token name '" + std::string(name) +
                                    "' must be 1 to 64 of [A-Za-z0-9._-]");
  }
  // Revocation takes an id or a name: a name that reads as an id would make it ambiguous.
  if (auth::is_token_id(name)) {
    return Status::invalid_argument("token name '" + std::string(name) +
                                    "' looks like a token id; choose another");
  }
  return Status();
}

json record_json(const TokenRecord& t) {
  return {{"hash", t.hash},
          {"scopes", t.scopes},
          {"name", t.name},
          {"created_ms", t.created_ms},
          {"created_by", t.created_by}};
}

}  // namespace

Bytes catalog_add_token(std::string_view id, const TokenRecord& token, bool bootstrap) {
  json c = record_json(token);
  c["op"] = "add_token";
  c["id"] = id;
  c["bootstrap"] = bootstrap;
  c["now_ms"] = token.created_ms;  // the time the event log takes
  return encode_command(c);
}

Bytes catalog_revoke_token(std::string_view which, std::string_view revoked_by, int64_t now_ms) {
  return encode_command(
      {{"op", "revoke_token"}, {"which", which}, {"by", revoked_by}, {"now_ms", now_ms}});
}

Bytes CatalogTokens::apply_op(const json& command) {
  const std::string op = command.value("op", "");
  JsonFields c(command, op);
  if (op == "add_token") {
    const std::string id = c.str("id", 64);
    TokenRecord t;
    t.hash = c.str("hash", 128);
    t.scopes = c.strings("scopes", 64);
    t.name = c.str("name", kMaxNameBytes + 1);
    t.created_ms = c.int64("created_ms", 0);
    t.created_by = c.str("created_by", kMaxByBytes);
    const bool bootstrap = c.boolean("bootstrap");
    if (!c.ok()) return invalid(c.error());
    if (!auth::is_token_id(id)) return invalid("'" + id + "' is not a token id");
    if (!auth::is_token_hash(t.hash)) return invalid("a token's hash is 64 hex digits");
    if (auto s = auth::parse_scopes(t.scopes); !s.ok()) return invalid(s.status().message());
    if (Status s = check_name(t.name); !s.ok()) return invalid(s.message());
    if (bootstrap && !bootstrap_id_.empty()) {
      auto it = tokens_.find(id);
      if (bootstrap_id_ == id && it != tokens_.end() && it->second == t) {
        return ok_result({{"id", id}, {"name", t.name}});  // a retry that already landed
      }
      return error_result(ErrorCode::conflict, "the cluster already has its bootstrap token");
    }
    if (tokens_.contains(id)) return error_result(ErrorCode::exists, "token id taken");
    if (!t.name.empty()) {
      for (const auto& [other, rec] : tokens_) {
        if (rec.name == t.name) {
          return error_result(ErrorCode::exists,
                              "a token named '" + t.name + "' exists (" + other + ")");
        }
      }
    }
    if (tokens_.size() >= kMaxTokens) {
      return error_result(ErrorCode::conflict,
                          fmt::format("the cluster has {} tokens, the most it keeps; revoke some",
                                      kMaxTokens));
    }
    const std::string name = t.name;
    tokens_.emplace(id, std::move(t));
    if (bootstrap) bootstrap_id_ = id;
    ++version_;
    return ok_result({{"id", id}, {"name", name}});
  }
  if (op == "revoke_token") {
    const std::string which = c.str("which", kMaxNameBytes + 1);
    if (!c.ok()) return invalid(c.error());
    auto it = tokens_.find(which);
    if (it == tokens_.end()) {
      it = std::find_if(tokens_.begin(), tokens_.end(), [&](const auto& kv) {
        return !which.empty() && kv.second.name == which;
      });
    }
    if (it == tokens_.end()) {
      return error_result(ErrorCode::not_found, "no token with id or name '" + which + "'");
    }
    json out = {{"id", it->first}, {"name", it->second.name}};
    tokens_.erase(it);
    ++version_;
    return ok_result(std::move(out));
  }
  return invalid("unknown token command '" + op + "'");
}

auth::TokenTable CatalogTokens::table() const {
  auth::TokenTable out;
  for (const auto& [id, t] : tokens_) {
    auth::TokenEntry e{t.hash, {}, t.name};
    for (const auto& s : t.scopes) {
      if (auto scope = auth::parse_scope(s); scope.ok()) e.scopes.push_back(std::move(*scope));
    }
    out.emplace(id, std::move(e));
  }
  return out;
}

json CatalogTokens::table_json() const {
  json tokens = json::array();
  for (const auto& [id, t] : tokens_) {
    tokens.push_back({{"id", id}, {"hash", t.hash}, {"scopes", t.scopes}, {"name", t.name}});
  }
  return {{"version", version_}, {"tokens", std::move(tokens)}};
}

Result<std::pair<uint64_t, auth::TokenTable>> CatalogTokens::table_from_json(const json& j) {
  JsonFields f(j, "token table");
  const uint64_t version = f.uint64("version");
  const json& tokens = f.array("tokens");
  if (!f.ok()) return Status::invalid_argument(f.error());
  if (tokens.size() > kMaxTokens) return Status::invalid_argument("token table: too many tokens");
  auth::TokenTable table;
  for (const auto& t : tokens) {
    JsonFields tf(t, "token table entry");
    const std::string id = tf.str("id", 64);
    auth::TokenEntry e;
    e.hash = tf.str("hash", 128);
    const auto scopes = tf.strings("scopes", 64);
    e.name = tf.str("name", kMaxNameBytes + 1);
    if (!tf.ok()) return Status::invalid_argument(tf.error());
    if (!auth::is_token_id(id) || !auth::is_token_hash(e.hash)) {
      return Status::invalid_argument("token table: bad id or hash for '" + id + "'");
    }
    auto parsed = auth::parse_scopes(scopes);
    if (!parsed.ok()) return Status::invalid_argument("token table: " + parsed.status().message());
    e.scopes = std::move(*parsed);
    table.emplace(id, std::move(e));
  }
  return std::make_pair(version, std::move(table));
}

json CatalogTokens::to_json() const {
  json tokens = json::object();
  for (const auto& [id, t] : tokens_) tokens[id] = record_json(t);
  return {{"tokens", std::move(tokens)}, {"version", version_}, {"bootstrap_id", bootstrap_id_}};
}

Result<CatalogTokens> CatalogTokens::from_json(const json& j) {
  JsonFields f(j, "catalog tokens");
  CatalogTokens out;
  out.version_ = f.uint64("version");
  out.bootstrap_id_ = f.str("bootstrap_id", 64);
  const json& tokens = f.object("tokens");
  if (!f.ok()) return Status::corruption(f.error());
  for (const auto& [id, t] : tokens.items()) {
    JsonFields tf(t, "catalog tokens: '" + id + "'");
    TokenRecord r;
    r.hash = tf.str("hash", 128);
    r.scopes = tf.strings("scopes", 64);
    r.name = tf.str("name", kMaxNameBytes + 1);
    r.created_ms = tf.int64("created_ms");
    r.created_by = tf.str("created_by", kMaxByBytes);
    if (!tf.ok()) return Status::corruption(tf.error());
    if (!auth::is_token_id(id) || !auth::is_token_hash(r.hash)) {
      return Status::corruption("catalog tokens: bad id or hash for '" + id + "'");
    }
    out.tokens_.emplace(id, std::move(r));
  }
  return out;
}

}  // namespace shoal::node::apps
