#include "node/secure/cluster_secret.h"

#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace shoal::node::secure {

namespace {
constexpr size_t kSecretTextLen = 43;  // 32 bytes, base64url without padding
constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}
}  // namespace

Keyring::~Keyring() {
  for (auto& k : keys_) sodium_memzero(k.data(), k.size());
}

SecretKey generate_secret() {
  // Idempotent; it fails only where no random source exists, and no secret can be made.
  if (sodium_init() < 0) std::abort();
  SecretKey k;
  randombytes_buf(k.data(), k.size());
  return k;
}

std::string secret_text(const SecretKey& key) {
  std::string b64(sodium_base64_ENCODED_LEN(kSecretBytes, kVariant), '\0');
  sodium_bin2base64(b64.data(), b64.size(), key.data(), key.size(), kVariant);
  b64.resize(kSecretTextLen);
  return std::string(kSecretPrefix) + b64;
}

Result<SecretKey> parse_secret(std::string_view text) {
  text = trim(text);
  if (text.substr(0, kSecretPrefix.size()) != kSecretPrefix) {
    return Status::invalid_argument("a cluster secret starts with '" + std::string(kSecretPrefix) +
                                    "' (make one with `shoal keygen --cluster`)");
  }
  text.remove_prefix(kSecretPrefix.size());
  SecretKey k;
  size_t n = 0;
  const char* end = nullptr;
  if (text.size() != kSecretTextLen ||
      sodium_base642bin(k.data(), k.size(), text.data(), text.size(), nullptr, &n, &end,
                        kVariant) != 0 ||
      n != kSecretBytes || end != text.data() + text.size()) {
    sodium_memzero(k.data(), k.size());
    return Status::invalid_argument("a cluster secret is '" + std::string(kSecretPrefix) +
                                    "' and 43 base64url characters (32 bytes)");
  }
  return k;
}

Result<Keyring> parse_keyring(std::string_view text) {
  std::vector<SecretKey> keys;
  int line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    auto key = parse_secret(line);
    if (!key.ok()) return key.status().with_context("line " + std::to_string(line_no));
    keys.push_back(*key);
  }
  if (keys.empty()) return Status::invalid_argument("holds no cluster secret");
  return Keyring(std::move(keys));
}

Result<Keyring> load_keyring(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::not_found(path.string() + " does not exist");
    return Status::io_error("cannot stat " + path.string() + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    return Status::permission_denied(fmt::format(
        "{} may be read by others than its owner (mode {:04o}); chmod 600 it", path.string(),
        st.st_mode & 07777));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("cannot read " + path.string());
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  auto ring = parse_keyring(text);
  sodium_memzero(text.data(), text.size());
  if (!ring.ok()) return ring.status().with_context(path.string());
  return ring;
}

}  // namespace shoal::node::secure
