// tests/gossip/crypto_fuzz_target.h
//
// Feeds one arbitrary byte string through memberlist's encrypted framing (encryption.h),
// for the libFuzzer target (tests/fuzz/wire_fuzz.cc) and the bounded run in ctest
// (crypto_fuzz_test.cc). Properties, for any input:
//  - decrypting it as a packet or a stream never crashes and, should it authenticate, the
//    plaintext goes through every wire decoder (feed_all_decoders);
//  - taken as plaintext, it round-trips through encryption (packet and stream, versions 0
//    and 1), and the ciphertext with any one byte changed after the version is refused.
// Returns "" when all is well, else the broken property.
#pragma once

#include <string>

#include "gossip/encryption.h"
#include "tests/gossip/wire_fuzz_target.h"

namespace shoal::gossip::fuzz {

inline const Keyring& fuzz_keyring() {
  static const Keyring ring = [] {
    (void)encryption_available();
    return Keyring::create({Bytes(kKeySize, 0x11), Bytes(kKeySize, 0x22)}).value();
  }();
  return ring;
}

inline std::string feed_encrypted_framing(ByteView data) {
  const Keyring& ring = fuzz_keyring();
  if (auto p = decrypt_payload(ring, data, {}); p.ok()) {
    if (auto bad = feed_all_decoders(p->plain); !bad.empty()) return "decrypted packet: " + bad;
  }
  if (auto len = stream_message_length(data); len.ok() && len->has_value() && !data.empty() &&
                                              data[0] == static_cast<uint8_t>(MessageType::encrypt)) {
    (void)decrypt_stream(ring, data.first(**len));
  }

  Nonce nonce{};
  for (size_t i = 0; i < data.size(); ++i) nonce[i % kNonceSize] ^= data[i];
  const ByteView key = ring.keys()[data.size() % 2];
  for (uint8_t version : {0, 1}) {
    const Bytes packet = encrypt_payload(version, key, data, {}, nonce);
    auto p = decrypt_payload(ring, packet, {});
    if (!p.ok()) return "packet round trip failed: " + p.status().to_string();
    if (!std::equal(p->plain.begin(), p->plain.end(), data.begin(), data.end())) {
      return "packet round trip changed the bytes";
    }
    Bytes bad = packet;
    bad[1 + (data.empty() ? 0 : data[0]) % (bad.size() - 1)] ^= 0x80;
    if (decrypt_payload(ring, bad, {}).ok()) return "a changed packet still decrypted";

    const Bytes stream = encrypt_stream(version, key, data, nonce);
    auto s = decrypt_stream(ring, stream);
    if (!s.ok()) return "stream round trip failed: " + s.status().to_string();
    if (!std::equal(s->plain.begin(), s->plain.end(), data.begin(), data.end())) {
      return "stream round trip changed the bytes";
    }
    bad = stream;
    bad[(data.empty() ? 0 : data[0]) % bad.size()] ^= 0x80;
    if (decrypt_stream(ring, bad).ok()) return "a changed stream message still decrypted";
  }
  return "";
}

}  // namespace shoal::gossip::fuzz
