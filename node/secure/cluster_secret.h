// node/secure/cluster_secret.h
//
// The cluster secret: 32 random bytes every node of a cluster holds, which keys its
// node-to-node channel (docs/security.md, "Node to node"). Its text form is
// "shoal-secret-" + 43 base64url characters, one per line in a secret file.
//
// A file may hold several secrets, for rotation: the first is the one this node dials
// with; all of them are accepted from callers. Blank lines and lines starting with '#'
// are skipped.
//
// Contract:
//  - Parsing names the line and what is wrong with it; the secret itself never appears in
//    an error or a log line.
//  - Key bytes are wiped when a Keyring is destroyed.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace shoal::node::secure {

inline constexpr std::string_view kSecretPrefix = "shoal-secret-";
inline constexpr size_t kSecretBytes = 32;

using SecretKey = std::array<unsigned char, kSecretBytes>;

class Keyring {
 public:
  Keyring() = default;
  explicit Keyring(std::vector<SecretKey> keys) : keys_(std::move(keys)) {}
  Keyring(const Keyring&) = default;
  Keyring& operator=(const Keyring&) = default;
  ~Keyring();

  bool empty() const { return keys_.empty(); }
  // The key this node dials with. Precondition: !empty().
  const SecretKey& primary() const { return keys_.front(); }
  const std::vector<SecretKey>& keys() const { return keys_; }

 private:
  std::vector<SecretKey> keys_;
};

SecretKey generate_secret();
std::string secret_text(const SecretKey& key);
Result<SecretKey> parse_secret(std::string_view text);

// A secret file's text: at least one secret; invalid_argument names the bad line.
Result<Keyring> parse_keyring(std::string_view text);
// Reads and parses `path`; not_found if it does not exist. Refuses a file that others
// than its owner may read, as ssh does a private key.
Result<Keyring> load_keyring(const std::filesystem::path& path);

}  // namespace shoal::node::secure
