// gossip/keyring.h
//
// Keyring: the gossip encryption keys, as memberlist keeps them. keys()[0] is the primary:
// every message we send is encrypted with it, and it is the first tried on what arrives;
// the others only decrypt (they let a cluster rotate keys without a moment where two
// members cannot read each other).
//
// Contract:
//  - Rules are memberlist's (keyring.go): installing a key already present is a no-op;
//    use() needs an installed key; the primary cannot be removed; removing an absent key
//    is a no-op. An empty keyring means encryption is off.
//  - Keys are 32 bytes (AES-256). Memberlist also takes 16 and 24 (AES-128/192), which
//    libsodium cannot do: those are refused with an error naming the length.
//  - Not thread-safe; owned by Memberlist, on the engine's strand.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace shoal::gossip {

inline constexpr size_t kKeySize = 32;

class Keyring {
 public:
  Keyring() = default;
  // primary first, then the others (duplicates dropped). Every key is validated.
  static Result<Keyring> create(const std::vector<Bytes>& keys);

  // ok for a 32-byte key; invalid_argument naming the length otherwise.
  static Status validate_key(ByteView key);

  bool enabled() const { return !keys_.empty(); }
  const std::vector<Bytes>& keys() const { return keys_; }
  // REQUIRES: enabled().
  ByteView primary() const { return keys_.front(); }

  Status install(ByteView key);
  Status use(ByteView key);
  Status remove(ByteView key);

 private:
  std::vector<Bytes> keys_;
};

// Standard base64 (with padding), the form serf's CLI, keyring file and key queries use.
std::string key_to_base64(ByteView key);
// A base64 key, validated as a key: "key is 16 bytes ..." or "key is not valid base64".
// check_length = false only decodes (a key query passes any length on to every member,
// and each says whether it takes it).
Result<Bytes> key_from_base64(std::string_view text, bool check_length = true);

}  // namespace shoal::gossip
