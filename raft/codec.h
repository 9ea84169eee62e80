// raft/codec.h
//
// Binary encodings of what the log store keeps on disk and what config-change entries carry.
// Little-endian fixed-width integers, u32-length-prefixed strings and byte arrays; the exact
// layouts are in docs/raft.md ("Storage format").
//
// Contract:
//  - encode_* never fails. decode_* returns Status::corruption naming the record and what was
//    wrong (short buffer, bad enum, trailing bytes); it never reads outside its input.
//  - seal() prefixes a payload with a masked CRC-32C over key and payload; unseal() checks it,
//    so a flipped bit, a truncated value or a value stored under the wrong key is reported as
//    corruption. The returned view borrows `value` and must not outlive it.
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "raft/types.h"

namespace shoal::raft::codec {

Bytes encode_entry(const Entry& e);
Result<Entry> decode_entry(ByteView bytes);

Bytes encode_hard_state(const HardState& hs);
Result<HardState> decode_hard_state(ByteView bytes);

Bytes encode_snapshot_meta(const SnapshotMeta& meta);
Result<SnapshotMeta> decode_snapshot_meta(ByteView bytes);

Bytes encode_config_change(const ConfigChange& change);
Result<ConfigChange> decode_config_change(ByteView bytes);

// Checksummed record framing: [u32 masked crc32c(key || payload)][payload].
Bytes seal(std::string_view key, ByteView payload);
Result<ByteView> unseal(std::string_view key, ByteView value);

}  // namespace shoal::raft::codec
