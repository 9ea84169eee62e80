#include "node/auth/token.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>

#include "node/apps/names.h"

namespace shoal::node::auth {

namespace {

constexpr size_t kMaxScopes = 32;

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_base64url(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string hex(const unsigned char* p, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

}  // namespace

std::string Scope::to_string() const {
  switch (kind) {
    case Kind::admin: return "admin";
    case Kind::read: return "read";
    case Kind::deploy: return "deploy:" + app;
  }
  return "read";
}

Result<Scope> parse_scope(std::string_view text) {
  if (text == "admin") return Scope{Scope::Kind::admin, {}};
  if (text == "read") return Scope{Scope::Kind::read, {}};
  if (text.starts_with("deploy:")) {
    const std::string_view app = text.substr(7);
    if (Status s = apps::validate_app_name(app); !s.ok()) {
      return Status::invalid_argument("scope '" + std::string(text) + "': " + s.message());
    }
    return Scope{Scope::Kind::deploy, std::string(app)};
  }
  return Status::invalid_argument("scope '" + std::string(text) +
                                  "' is not one of admin, read, deploy:APP");
}

Result<std::vector<Scope>> parse_scopes(const std::vector<std::string>& texts) {
  if (texts.empty()) return Status::invalid_argument("a token needs at least one scope");
  if (texts.size() > kMaxScopes) {
    return Status::invalid_argument("a token has at most " + std::to_string(kMaxScopes) +
                                    " scopes");
  }
  std::vector<Scope> out;
  for (const auto& t : texts) {
    auto s = parse_scope(t);
    if (!s.ok()) return s.status();
    if (std::find(out.begin(), out.end(), *s) == out.end()) out.push_back(std::move(*s));
  }
  return out;
}

bool allows(const std::vector<Scope>& scopes, const Access& need) {
  if (need.kind == Access::Kind::open) return true;
  for (const auto& s : scopes) {
    switch (s.kind) {
      case Scope::Kind::admin: return true;
      case Scope::Kind::read:
        if (need.kind == Access::Kind::read) return true;
        break;
      case Scope::Kind::deploy:
        // Deploying means watching the rollout: a deploy token reads too.
        if (need.kind == Access::Kind::read) return true;
        if (need.kind == Access::Kind::deploy && need.app == s.app) return true;
        break;
    }
  }
  return false;
}

TokenParts generate_token() {
  unsigned char id[kTokenIdHexLen / 2];
  unsigned char secret[32];
  randombytes_buf(id, sizeof id);
  randombytes_buf(secret, sizeof secret);
  TokenParts t;
  t.id = hex(id, sizeof id);
  std::string b64(sodium_base64_ENCODED_LEN(sizeof secret, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(b64.data(), b64.size(), secret, sizeof secret,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  b64.resize(kTokenSecretLen);
  t.secret = std::move(b64);
  sodium_memzero(secret, sizeof secret);
  return t;
}

std::string token_text(const TokenParts& t) {
  return std::string(kTokenPrefix) + t.id + "_" + t.secret;
}

Result<TokenParts> parse_token(std::string_view text) {
  const size_t want = kTokenPrefix.size() + kTokenIdHexLen + 1 + kTokenSecretLen;
  if (!text.starts_with(kTokenPrefix)) {
    return Status::invalid_argument("not a Shoal token (it must start with \"shoal_\")");
  }
  if (text.size() != want) {
    return Status::invalid_argument("a Shoal token is " + std::to_string(want) +
                                    " characters long, not " + std::to_string(text.size()));
  }
  TokenParts t;
  t.id = std::string(text.substr(kTokenPrefix.size(), kTokenIdHexLen));
  const size_t sep = kTokenPrefix.size() + kTokenIdHexLen;
  t.secret = std::string(text.substr(sep + 1));
  if (text[sep] != '_' || !is_lower_hex(t.id) || !is_base64url(t.secret)) {
    return Status::invalid_argument("a Shoal token is shoal_<16 hex digits>_<43 base64url>");
  }
  return t;
}

std::string hash_secret(std::string_view secret) {
  unsigned char out[crypto_generichash_BYTES];  // 32
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size(), nullptr, 0);
  return hex(out, sizeof out);
}

bool same_hash(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool is_token_id(std::string_view id) { return id.size() == kTokenIdHexLen && is_lower_hex(id); }

bool is_token_hash(std::string_view hash) {
  return hash.size() == 2 * crypto_generichash_BYTES && is_lower_hex(hash);
}

namespace {

// The credentials after `scheme` ("bearer ", lower case, with its space) in an Authorization
// value, the scheme matched in any case and the credentials trimmed; nullopt if another
// scheme or nothing after it.
std::optional<std::string_view> credentials(std::string_view authorization,
                                            std::string_view scheme) {
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  if (authorization.size() <= scheme.size()) return std::nullopt;
  for (size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) return std::nullopt;
  }
  std::string_view rest = authorization.substr(scheme.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  if (rest.empty()) return std::nullopt;
  return rest;
}

}  // namespace

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  return credentials(authorization, "bearer ");
}

std::optional<std::string> basic_password(std::string_view authorization) {
  auto b64 = credentials(authorization, "basic ");
  if (!b64 || b64->size() > 4096) return std::nullopt;
  std::string decoded(b64->size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(),
                        b64->data(), b64->size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::nullopt;
  }
  decoded.resize(len);
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos || colon + 1 == decoded.size()) return std::nullopt;
  return decoded.substr(colon + 1);
}

std::optional<std::string> token_of_header(std::string_view authorization) {
  if (auto bearer = bearer_token(authorization)) return std::string(*bearer);
  return basic_password(authorization);
}

}  // namespace shoal::node::auth
