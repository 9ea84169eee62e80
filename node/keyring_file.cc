#include "node/keyring_file.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "node/data_dir.h"

namespace shoal::node {

std::string keyring_to_json(const gossip::Keyring& keyring) {
  nlohmann::json keys = nlohmann::json::array();
  for (const Bytes& k : keyring.keys()) keys.push_back(gossip::key_to_base64(k));
  return keys.dump() + "\n";
}

Result<gossip::Keyring> keyring_from_json(std::string_view text) {
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Status::invalid_argument("not valid JSON");
  if (!json.is_array()) return Status::invalid_argument("not a JSON array of base64 keys");
  if (json.empty()) return Status::invalid_argument("the keyring holds no keys");
  std::vector<Bytes> keys;
  for (size_t i = 0; i < json.size(); ++i) {
    if (!json[i].is_string()) {
      return Status::invalid_argument(fmt::format("entry {} is not a string", i + 1));
    }
    auto key = gossip::key_from_base64(json[i].get<std::string>());
    if (!key.ok()) return key.status().with_context(fmt::format("key {}", i + 1));
    keys.push_back(std::move(*key));
  }
  return gossip::Keyring::create(keys);
}

Result<std::optional<gossip::Keyring>> load_keyring_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec) return std::optional<gossip::Keyring>{};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("keyring file '" + path.string() + "' cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::io_error("keyring file '" + path.string() + "' cannot be read");
  auto ring = keyring_from_json(text.str());
  if (!ring.ok()) {
    return Status::invalid_argument("keyring file '" + path.string() +
                                    "' is malformed: " + ring.status().message());
  }
  return std::optional<gossip::Keyring>(std::move(*ring));
}

Status save_keyring_file(const std::filesystem::path& path, const gossip::Keyring& keyring) {
  return write_file_durably(path, keyring_to_json(keyring));
}

Result<gossip::Keyring> startup_keyring(const std::filesystem::path& data_dir,
                                        const std::optional<Bytes>& encrypt_key) {
  const std::filesystem::path path = data_dir / kKeyringFileName;
  auto stored = load_keyring_file(path);
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) {
    gossip::Keyring ring = std::move(**stored);
    if (encrypt_key && std::ranges::none_of(ring.keys(), [&](const Bytes& k) { return k == *encrypt_key; })) {
      spdlog::warn("keyring-file-wins path={} keys={} note=\"the --encrypt key is not in the "
                   "keyring file, which holds the keys since a rotation; --encrypt is ignored\"",
                   path.string(), ring.keys().size());
    }
    spdlog::info("keyring-loaded path={} keys={}", path.string(), ring.keys().size());
    return ring;
  }
  if (!encrypt_key) return gossip::Keyring{};
  auto ring = gossip::Keyring::create({*encrypt_key});
  if (!ring.ok()) return ring.status().with_context("--encrypt");
  if (Status s = save_keyring_file(path, *ring); !s.ok()) return s;
  spdlog::info("keyring-created path={}", path.string());
  return ring;
}

}  // namespace shoal::node
