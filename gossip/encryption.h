// gossip/encryption.h
//
// Memberlist's AES-GCM framing (memberlist security.go, net.go), through libsodium.
//
//   payload = [version][12-byte nonce][AES-GCM(ciphertext || 16-byte tag)]
//     version 1: the plaintext as is (sent by protocol >= 2, i.e. everyone today);
//     version 0: the plaintext PKCS#7-padded to 16 bytes first (protocol 1 peers).
//   UDP packet = payload, no associated data. It wraps everything else: the CRC wrapper,
//     compression and compounds are inside.
//   TCP stream = [10][uint32 BE payload length][payload], the 5 header bytes being the
//     associated data. Every stream message in both directions is wrapped, errors too.
//
// Contract:
//  - Pure functions; the nonce is the caller's (random_nonce() in production, a fixed
//    one in tests), so callers stay deterministic when they want to be.
//  - Decryption tries every key of the ring, primary first; failures say why
//    (DecryptFailure, for counters) and leave nothing behind.
//  - encryption_available() must be ok before anything here runs: libsodium's AES-GCM
//    needs AES-NI (and CLMUL); on a CPU without them it is an error naming that.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "gossip/keyring.h"

namespace shoal::gossip {

inline constexpr size_t kNonceSize = 12;
inline constexpr size_t kTagSize = 16;
inline constexpr uint8_t kEncryptionVersionMax = 1;
inline constexpr size_t kStreamEncryptHeader = 5;  // [10][uint32 BE length]
using Nonce = std::array<uint8_t, kNonceSize>;

// Initializes libsodium once; failed_precondition when AES-256-GCM cannot run here.
Status encryption_available();
// 12 bytes from libsodium's CSPRNG.
Nonce random_nonce();

// The encryption version memberlist uses for a protocol version: 0 for 1, else 1.
inline uint8_t encryption_version_for(uint8_t protocol_version) {
  return protocol_version == 1 ? 0 : 1;
}
// Largest growth of a message once encrypted (memberlist's encryptOverhead).
inline size_t encrypt_overhead(uint8_t version) { return version == 0 ? 45 : 29; }

// REQUIRES: version <= 1, key.size() == kKeySize, encryption_available().
Bytes encrypt_payload(uint8_t version, ByteView key, ByteView msg, ByteView aad,
                      const Nonce& nonce);

enum class DecryptFailure : uint8_t {
  none,
  empty,                // nothing to decrypt
  unknown_version,      // first byte > 1: not encrypted, or a newer peer
  truncated,            // shorter than version + nonce + tag, or than its declared length
  no_key,               // no installed key authenticates it (wrong key, or tampered)
  bad_padding,          // version 0 whose PKCS#7 padding is not valid
  not_encrypted,        // a plain stream message while we require encryption
  encryption_disabled,  // an encrypted stream message while we have no keys
};
std::string_view to_string(DecryptFailure why);

struct Decrypted {
  Bytes plain;
  Nonce nonce{};
};
// `why`, when given, is set on failure. REQUIRES: keyring.enabled().
Result<Decrypted> decrypt_payload(const Keyring& keyring, ByteView msg, ByteView aad,
                                  DecryptFailure* why = nullptr);

// [10][uint32 BE length][payload(aad = those 5 bytes)].
Bytes encrypt_stream(uint8_t version, ByteView key, ByteView msg, const Nonce& nonce);
// `message` starts at the type byte 10 (as stream_message_length delimits it).
Result<Decrypted> decrypt_stream(const Keyring& keyring, ByteView message,
                                 DecryptFailure* why = nullptr);

}  // namespace shoal::gossip
