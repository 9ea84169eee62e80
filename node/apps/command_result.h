// node/apps/command_result.h
//
// The envelope of the apps layer's Raft commands and results (docs/apps.md, "Raft groups"),
// shared by CatalogState and AppState: both are MessagePack of one JSON object. A command is
// {"op": "...", ...}; a result is {"ok": true, ...} or {"error": "message", "code": "..."}
// with code exists | not_found | invalid | conflict.
//
// Contract: pure; nothing throws. decode_command() refuses what is not a msgpack object (or
// is larger than kMaxCommandBytes); decode_result() turns an error result into a Status of
// the matching code (exists -> already_exists, not_found -> not_found, invalid ->
// invalid_argument, conflict -> failed_precondition) and bytes it cannot read into corruption.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace shoal::node::apps {

inline constexpr size_t kMaxCommandBytes = 4 << 20;

enum class ErrorCode { exists, not_found, invalid, conflict };
std::string_view error_code_name(ErrorCode code);

struct CommandResult {
  Status status;        // ok, or the error's code and message
  nlohmann::json body;  // the whole result object (also for errors); null if undecodable
  bool ok() const { return status.ok(); }
};

Bytes encode_command(const nlohmann::json& command);
Result<nlohmann::json> decode_command(ByteView data);

// {"ok": true} merged with `fields` (an object, or null for none).
Bytes ok_result(nlohmann::json fields = nullptr);
Bytes error_result(ErrorCode code, std::string_view message);
// The error result of a Status (already_exists -> exists, not_found -> not_found,
// failed_precondition -> conflict, anything else -> invalid). REQUIRES: !status.ok().
Bytes error_result(const Status& status);

CommandResult decode_result(ByteView data);

}  // namespace shoal::node::apps
