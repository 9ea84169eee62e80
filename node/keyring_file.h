// node/keyring_file.h
//
// The agent's gossip keyring on disk: DATA_DIR/keyring.json, the format serf's
// -keyring-file uses: a JSON array of standard-base64 keys, the primary first.
//
//  - First start with --encrypt KEY: the file is written holding KEY alone.
//  - Later starts load the file; it wins over --encrypt (after a rotation with
//    `serf keys`, the key on the command line may be long gone), which is logged.
//  - Every change made by a keyring query (`serf keys`) is written back (durably) before the
//    agent reports success, so a restart keeps the rotated keys.
//
// Contract: a file that cannot be read or parsed, is empty, or holds a bad key is an
// error naming the file and the problem, and the agent refuses to start.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "gossip/keyring.h"

namespace shoal::node {

inline constexpr std::string_view kKeyringFileName = "keyring.json";

std::string keyring_to_json(const gossip::Keyring& keyring);
// Errors name the problem (not JSON, not an array of strings, key N: ..., no keys).
Result<gossip::Keyring> keyring_from_json(std::string_view text);

// nullopt when the file does not exist.
Result<std::optional<gossip::Keyring>> load_keyring_file(const std::filesystem::path& path);
Status save_keyring_file(const std::filesystem::path& path, const gossip::Keyring& keyring);

// The keyring an agent starts with, from its data dir and --encrypt (see above). An empty
// keyring (no file, no key) means gossip is not encrypted.
Result<gossip::Keyring> startup_keyring(const std::filesystem::path& data_dir,
                                        const std::optional<Bytes>& encrypt_key);

}  // namespace shoal::node
