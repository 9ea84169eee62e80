#include "gossip/keyring.h"

#include <sodium.h>

#include <algorithm>

#include <fmt/format.h>

namespace shoal::gossip {

namespace {
bool same(ByteView a, ByteView b) { return std::ranges::equal(a, b); }
}  // namespace

Status Keyring::validate_key(ByteView key) {
  switch (key.size()) {
    case kKeySize: return Status::ok_status();
    case 16:
    case 24:
      return Status::invalid_argument(fmt::format(
          "key is {} bytes (AES-{}); Shoal supports only 32-byte AES-256 keys (libsodium has "
          "no AES-128/192-GCM): make one with `shoal keygen` or `serf keygen`",
          key.size(), key.size() * 8));
    default:
      return Status::invalid_argument(
          fmt::format("key is {} bytes; an encryption key must be 32 bytes (AES-256)",
                      key.size()));
  }
}

Result<Keyring> Keyring::create(const std::vector<Bytes>& keys) {
  Keyring ring;
  for (const Bytes& k : keys) {
    if (Status s = ring.install(k); !s.ok()) return s;
  }
  return ring;
}

Status Keyring::install(ByteView key) {
  if (Status s = validate_key(key); !s.ok()) return s;
  for (const Bytes& k : keys_) {
    if (same(k, key)) return Status::ok_status();
  }
  keys_.emplace_back(key.begin(), key.end());
  return Status::ok_status();
}

Status Keyring::use(ByteView key) {
  auto it = std::ranges::find_if(keys_, [&](const Bytes& k) { return same(k, key); });
  if (it == keys_.end()) return Status::not_found("the requested key is not in the keyring");
  std::rotate(keys_.begin(), it, it + 1);  // primary to the front, the rest keep their order
  return Status::ok_status();
}

Status Keyring::remove(ByteView key) {
  if (!keys_.empty() && same(keys_.front(), key)) {
    return Status::failed_precondition("removing the primary key is not allowed");
  }
  std::erase_if(keys_, [&](const Bytes& k) { return same(k, key); });
  return Status::ok_status();
}

std::string key_to_base64(ByteView key) {
  std::string out(sodium_base64_encoded_len(key.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), key.data(), key.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

Result<Bytes> key_from_base64(std::string_view text, bool check_length) {
  Bytes out(text.size());
  size_t len = 0;
  const char* end = nullptr;
  // Empty text decodes to no bytes without libsodium, which would get null buffers.
  if (!text.empty() &&
      (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                         sodium_base64_VARIANT_ORIGINAL) != 0 ||
       end != text.data() + text.size())) {
    return Status::invalid_argument("key is not valid base64");
  }
  out.resize(len);
  if (!check_length) return out;
  if (Status s = Keyring::validate_key(out); !s.ok()) return s;
  return out;
}

}  // namespace shoal::gossip
