// gossip/key_query.h
//
// Serf's keyring management over queries (serf/keymanager.go, internal_query.go):
// `_serf_install-key`, `_serf_use-key`, `_serf_remove-key`, `_serf_list-keys`.
//
//   request payload  = [7 key_request][msgpack {Key: bytes}]   (list-keys: no Key field)
//   response payload = [8 key_response][msgpack {Keys, Message, PrimaryKey, Result}]
//
// Every member answers with Result (did it work) and Message (why not); list-keys also
// returns its keys in base64 and its primary. The asker counts answers against the number
// of members it knows (KeyReport) and reports who failed, as `serf keys` prints it.
//
// Contract: pure functions; payloads from peers are checked, never trusted.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "gossip/keyring.h"

namespace shoal::gossip {

enum class KeyOp : uint8_t { install, use, remove, list };
std::string_view to_string(KeyOp op);  // "install-key", "use-key", "remove-key", "list-keys"
// The query name for `op`: "_serf_install-key", ...
std::string key_query_name(KeyOp op);
// The op of an internal query name; nullopt for any other query.
std::optional<KeyOp> key_op_of_query(std::string_view query_name);

struct NodeKeyResponse {
  bool result = false;
  std::string message;
  std::vector<std::string> keys;  // base64; list-keys only
  std::string primary_key;        // base64; list-keys only
};

// [7][{Key}] — list-keys sends an empty key, as serf does.
Bytes encode_key_request(ByteView key);
// The key of a request payload (type byte included); corruption if malformed.
Result<Bytes> decode_key_request(ByteView payload);

Bytes encode_key_response(const NodeKeyResponse& r);
Result<NodeKeyResponse> decode_key_response(ByteView payload);

// What a member does with a key query it received: applies it to `keyring` (when it
// holds keys) and says how it went. `*changed` tells whether the keyring changed and must
// be saved (the caller then saves it before answering, and on failure answers with the
// error instead). `list_limit` bounds the list-keys answer (serf truncates the key list
// to fit the query response size limit, and says so in Message).
NodeKeyResponse handle_key_query(KeyOp op, ByteView payload, Keyring& keyring, bool* changed,
                                 size_t list_limit = 1024);

// The asker's tally (serf's KeyResponse).
struct KeyReport {
  int num_nodes = 0;                         // members we know of
  int num_resp = 0;
  int num_err = 0;
  std::map<std::string, std::string> messages;  // node -> error (or warning)
  std::map<std::string, int> keys;              // base64 key -> members holding it
  std::map<std::string, int> primary_keys;      // base64 key -> members using it

  void add(const std::string& from, ByteView payload);
  // ok, or "N/M nodes reported failure" / "N/M nodes reported success", as serf says it.
  Status status() const;
};

}  // namespace shoal::gossip
