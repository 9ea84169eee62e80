// node/auth/token.h
//
// API tokens (docs/security.md): what a token looks like, what it may do, and how it is
// kept. A token is "shoal_" + 16 hex digits of id + "_" + 43 characters of secret (32
// random bytes, base64url). The id names the token in lists, audit lines and revocation;
// only a hash of the secret is ever stored (BLAKE2b-256: the secret is random, so a slow
// password hash would add nothing).
//
// Scopes: "admin" (everything), "read" (every GET of /v1), "deploy:APP" (read, and every
// write to that app). Access is what a route needs; allows() is the one place deciding it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace shoal::node::auth {

inline constexpr std::string_view kTokenPrefix = "shoal_";
inline constexpr size_t kTokenIdHexLen = 16;
inline constexpr size_t kTokenSecretLen = 43;  // 32 bytes, base64url without padding

struct Scope {
  enum class Kind { admin, read, deploy };
  Kind kind = Kind::read;
  std::string app;  // deploy only
  std::string to_string() const;
  bool operator==(const Scope&) const = default;
};

// "admin" | "read" | "deploy:APP" (APP a valid app name). invalid_argument names the text.
Result<Scope> parse_scope(std::string_view text);
// All of `texts`, at least one, no more than 32; the first bad one is the error.
Result<std::vector<Scope>> parse_scopes(const std::vector<std::string>& texts);

// What a request needs.
struct Access {
  enum class Kind { open, read, deploy, admin };
  Kind kind = Kind::admin;
  std::string app;  // deploy: the app the request writes to
};

bool allows(const std::vector<Scope>& scopes, const Access& need);

struct TokenParts {
  std::string id;      // 16 lower-case hex digits
  std::string secret;  // 43 base64url characters
};

// A fresh random token (libsodium's CSPRNG).
TokenParts generate_token();
std::string token_text(const TokenParts& t);
// Splits a token's text; invalid_argument says what is wrong without echoing the secret.
Result<TokenParts> parse_token(std::string_view text);
// The stored form of a secret: 64 hex digits.
std::string hash_secret(std::string_view secret);
// Compares two hashes in constant time.
bool same_hash(std::string_view a, std::string_view b);

bool is_token_id(std::string_view id);
bool is_token_hash(std::string_view hash);

// The bearer token of an Authorization header value ("Bearer TOKEN", scheme in any case);
// nullopt for another scheme or an empty token.
std::optional<std::string_view> bearer_token(std::string_view authorization);
// The password of an "Authorization: Basic base64(user:password)" header, for clients that
// send only user and password (git): the password is the token, the user is not looked at.
// nullopt for another scheme, bad base64, no ':' or an empty password.
std::optional<std::string> basic_password(std::string_view authorization);
// The token an Authorization header carries: Bearer's, else Basic's password; nullopt when
// it carries neither.
std::optional<std::string> token_of_header(std::string_view authorization);

}  // namespace shoal::node::auth
