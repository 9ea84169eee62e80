#include "gossip/encryption.h"

#include <sodium.h>

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

#include "gossip/messages.h"

namespace shoal::gossip {

namespace {
constexpr size_t kBlockSize = 16;  // PKCS#7 block of version 0

static_assert(crypto_aead_aes256gcm_NPUBBYTES == kNonceSize);
static_assert(crypto_aead_aes256gcm_ABYTES == kTagSize);
static_assert(crypto_aead_aes256gcm_KEYBYTES == kKeySize);

Status fail(DecryptFailure reason, DecryptFailure* why, std::string_view msg) {
  if (why != nullptr) *why = reason;
  return Status::corruption(msg);
}

uint32_t read_be32(ByteView b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}
}  // namespace

Status encryption_available() {
  static const Status status = [] {
    if (sodium_init() < 0) return Status::internal("libsodium failed to initialize");
    if (crypto_aead_aes256gcm_is_available() == 0) {
      return Status::failed_precondition(
          "gossip encryption needs AES-256-GCM, which libsodium provides only on CPUs with "
          "AES-NI and CLMUL; this CPU has neither");
    }
    return Status::ok_status();
  }();
  return status;
}

Nonce random_nonce() {
  Nonce n;
  randombytes_buf(n.data(), n.size());
  return n;
}

std::string_view to_string(DecryptFailure why) {
  switch (why) {
    case DecryptFailure::none: return "none";
    case DecryptFailure::empty: return "decrypt: empty";
    case DecryptFailure::unknown_version: return "decrypt: unknown version";
    case DecryptFailure::truncated: return "decrypt: truncated";
    case DecryptFailure::no_key: return "decrypt: no key";
    case DecryptFailure::bad_padding: return "decrypt: bad padding";
    case DecryptFailure::not_encrypted: return "decrypt: not encrypted";
    case DecryptFailure::encryption_disabled: return "decrypt: encryption disabled";
  }
  return "decrypt: ?";
}

Bytes encrypt_payload(uint8_t version, ByteView key, ByteView msg, ByteView aad,
                      const Nonce& nonce) {
  Bytes plain_padded;
  ByteView plain = msg;
  if (version == 0) {
    const size_t pad = kBlockSize - msg.size() % kBlockSize;
    plain_padded.assign(msg.begin(), msg.end());
    plain_padded.insert(plain_padded.end(), pad, static_cast<uint8_t>(pad));
    plain = plain_padded;
  }
  Bytes out(1 + kNonceSize + plain.size() + kTagSize);
  out[0] = version;
  std::ranges::copy(nonce, out.begin() + 1);
  unsigned long long written = 0;
  crypto_aead_aes256gcm_encrypt(out.data() + 1 + kNonceSize, &written, plain.data(),
                                plain.size(), aad.data(), aad.size(), nullptr, nonce.data(),
                                key.data());
  out.resize(1 + kNonceSize + written);
  return out;
}

Result<Decrypted> decrypt_payload(const Keyring& keyring, ByteView msg, ByteView aad,
                                  DecryptFailure* why) {
  if (msg.empty()) return fail(DecryptFailure::empty, why, "cannot decrypt an empty payload");
  const uint8_t version = msg[0];
  if (version > kEncryptionVersionMax) {
    return fail(DecryptFailure::unknown_version, why,
                fmt::format("unsupported encryption version {}", version));
  }
  const size_t min_size = 1 + kNonceSize + kTagSize + (version == 0 ? kBlockSize : 0);
  if (msg.size() < min_size) {
    return fail(DecryptFailure::truncated, why,
                fmt::format("payload is too small to decrypt: {} bytes", msg.size()));
  }
  Decrypted out;
  std::copy_n(msg.begin() + 1, kNonceSize, out.nonce.begin());
  const ByteView sealed = msg.subspan(1 + kNonceSize);
  out.plain.resize(sealed.size() - kTagSize);
  bool opened = false;
  for (const Bytes& key : keyring.keys()) {
    unsigned long long len = 0;
    if (crypto_aead_aes256gcm_decrypt(out.plain.data(), &len, nullptr, sealed.data(),
                                      sealed.size(), aad.data(), aad.size(), out.nonce.data(),
                                      key.data()) == 0) {
      out.plain.resize(len);
      opened = true;
      break;
    }
  }
  if (!opened) {
    return fail(DecryptFailure::no_key, why, "no installed key could decrypt the message");
  }
  if (version == 0) {
    // Go strips the padding unchecked; an authenticated but malformed pad is still refused.
    const uint8_t pad = out.plain.empty() ? 0 : out.plain.back();
    if (pad == 0 || pad > kBlockSize || pad > out.plain.size() ||
        !std::all_of(out.plain.end() - pad, out.plain.end(), [&](uint8_t b) { return b == pad; })) {
      return fail(DecryptFailure::bad_padding, why, "invalid PKCS#7 padding");
    }
    out.plain.resize(out.plain.size() - pad);
  }
  return out;
}

Bytes encrypt_stream(uint8_t version, ByteView key, ByteView msg, const Nonce& nonce) {
  const size_t pad = version == 0 ? kBlockSize - msg.size() % kBlockSize : 0;
  const auto len = static_cast<uint32_t>(1 + kNonceSize + msg.size() + pad + kTagSize);
  Bytes out{static_cast<uint8_t>(MessageType::encrypt), static_cast<uint8_t>(len >> 24),
            static_cast<uint8_t>(len >> 16), static_cast<uint8_t>(len >> 8),
            static_cast<uint8_t>(len)};
  const Bytes payload = encrypt_payload(version, key, msg, ByteView(out), nonce);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Result<Decrypted> decrypt_stream(const Keyring& keyring, ByteView message,
                                 DecryptFailure* why) {
  if (message.size() < kStreamEncryptHeader ||
      message[0] != static_cast<uint8_t>(MessageType::encrypt)) {
    return fail(DecryptFailure::truncated, why, "encrypted stream message without its header");
  }
  const uint32_t len = read_be32(message.subspan(1, 4));
  if (len > message.size() - kStreamEncryptHeader) {
    return fail(DecryptFailure::truncated, why,
                fmt::format("encrypted stream declares {} bytes, has {}", len,
                            message.size() - kStreamEncryptHeader));
  }
  return decrypt_payload(keyring, message.subspan(kStreamEncryptHeader, len),
                         message.first(kStreamEncryptHeader), why);
}

}  // namespace shoal::gossip
