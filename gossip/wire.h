// gossip/wire.h
//
// The memberlist and Serf wire codec: message structs (messages.h) to bytes and back,
// byte-compatible with HashiCorp memberlist 0.2.2 and Serf 0.9.4. docs/gossip-wire.md
// describes the layers: encrypt > crc > compress > compound > message.
//
// Conventions (those of Go's go-msgpack MsgpackHandle{}, see msgpack_writer.h):
//  - Every struct is a msgpack map keyed by the Go field name, keys in byte-wise sorted
//    order; decoders accept any order, skip unknown keys and read nil as zero.
//  - An empty Bytes field is written as nil (a Go nil slice); an empty string as "".
//    Ping/IndirectPing Source* fields are omitted when empty (codec:",omitempty").
//  - encode(...) returns [MessageType byte][msgpack body]; encode_serf(...) returns
//    [SerfMessageType byte][msgpack body] (the payload of a memberlist user message).
//  - decode_xxx(body) takes the body WITHOUT its type byte: the caller has already read
//    the type to dispatch. Bytes after the struct are ignored, as Go ignores them.
//
// Contract:
//  - Pure functions; no state, thread-safe. Results own their bytes except where a
//    ByteView is returned, which points into the caller's input and lives as long as it.
//  - Decoders never throw and never trust a length: errors are Status::corruption naming
//    the message and the field ("ping: field SeqNo: expected integer, got str").
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "gossip/messages.h"

namespace shoal::gossip {

// ---- memberlist messages: [type][body] -------------------------------------------------

Bytes encode(const Ping& m);
Bytes encode(const IndirectPing& m);
Bytes encode(const Ack& m);
Bytes encode(const Nack& m);
Bytes encode(const ErrResp& m);
Bytes encode(const Suspect& m);
Bytes encode(const Alive& m);
Bytes encode(const Dead& m);

Result<Ping> decode_ping(ByteView body);
Result<IndirectPing> decode_indirect_ping(ByteView body);
Result<Ack> decode_ack(ByteView body);
Result<Nack> decode_nack(ByteView body);
Result<ErrResp> decode_err(ByteView body);
Result<Suspect> decode_suspect(ByteView body);
Result<Alive> decode_alive(ByteView body);
Result<Dead> decode_dead(ByteView body);

// ---- push-pull (a stream message) ------------------------------------------------------

// [6][pushPullHeader][one pushNodeState per node][user state bytes].
Bytes encode_push_pull(const PushPull& m);
// `body` follows the type byte 6. Limits: user state at most kMaxPushStateBytes, and the
// node count is checked against the bytes present before anything is allocated.
Result<PushPull> decode_push_pull(ByteView body);

// ---- user messages on a stream ---------------------------------------------------------

// [8][userMsgHeader{UserMsgLen}][payload]: how memberlist sends a user message over TCP.
// (Over UDP a user message is simply [8][payload].)
Bytes encode_user_stream(ByteView payload);
// `body` follows the type byte 8; returns the payload, a view into `body`.
Result<ByteView> decode_user_stream(ByteView body);

// ---- compound, CRC ---------------------------------------------------------------------

// [7][count][count x uint16 BE length][parts...].
// REQUIRES: parts.size() <= 255 and every part shorter than 65536 bytes (asserted).
// Note: Go's decoder computes the length table size in uint8 arithmetic, so a Go peer
// misreads compounds of 128 parts or more; the engine should stay below 128.
Bytes make_compound(const std::vector<Bytes>& parts);
// `body` follows the type byte 7. Returns the parts (views into `body`). As memberlist
// does, a part that runs past the end is not an error: it and every later part are
// dropped, and their number is stored in *truncated_parts when given. A missing count
// byte or a cut length table is corruption.
Result<std::vector<ByteView>> split_compound(ByteView body, size_t* truncated_parts = nullptr);

uint32_t crc32_ieee(ByteView data);
// [12][crc32 BE of msg][msg]: sent to peers whose protocol max is >= 5.
Bytes add_crc(ByteView msg);
// If `packet` is a CRC wrapper (at least 5 bytes, type 12), verifies it and returns the
// inner message; a mismatch is corruption. Any other packet is returned unchanged, as
// memberlist treats it.
Result<ByteView> check_crc(ByteView packet);

// ---- stream framing --------------------------------------------------------------------

// Given the bytes received so far on a TCP stream (starting at a message's type byte),
// the length of the first complete message, type byte included; std::nullopt when more
// bytes are needed; corruption when the bytes cannot become a valid stream message or
// declare more than kMaxPushStateBytes. Knows push_pull, ping, ack, err, user, compress
// and encrypt ([10][uint32 BE length][ciphertext]). Cost is linear in `received`, so
// call it once per read, not once per byte.
Result<std::optional<size_t>> stream_message_length(ByteView received);

// ---- Serf messages: [SerfMessageType][body] ---------------------------------------------

Bytes encode_serf(const SerfLeave& m);
Bytes encode_serf(const SerfJoin& m);
Bytes encode_serf(const SerfPushPull& m);
Bytes encode_serf(const SerfUserEvent& m);
Bytes encode_serf(const SerfQuery& m);
// `type` is query_response or conflict_response (same struct, different meaning).
Bytes encode_serf(const SerfQueryResponse& m,
                  SerfMessageType type = SerfMessageType::query_response);
// [9][relayHeader][inner], where `inner` is a whole Serf message (type byte included).
Bytes encode_serf_relay(const SerfRelayHeader& header, ByteView inner);

Result<SerfLeave> decode_serf_leave(ByteView body);
Result<SerfJoin> decode_serf_join(ByteView body);
// Go sends Events as []*userEvents with nil slots; nil entries are skipped.
Result<SerfPushPull> decode_serf_push_pull(ByteView body);
Result<SerfUserEvent> decode_serf_user_event(ByteView body);
Result<SerfQuery> decode_serf_query(ByteView body);
Result<SerfQueryResponse> decode_serf_query_response(ByteView body);
// Returns the header and the inner message (type byte included; a view into `body`).
Result<std::pair<SerfRelayHeader, ByteView>> decode_serf_relay(ByteView body);

// A `_serf_conflict` response payload: [conflict_response][Member or nil]. Decoding nil
// (the responder does not know the node) gives nullopt.
Bytes encode_serf_conflict_member(const std::optional<SerfMemberInfo>& m);
Result<std::optional<SerfMemberInfo>> decode_serf_conflict_member(ByteView payload);

// Query filters, as carried in SerfQuery::filters: [FilterType][msgpack body].
Bytes encode_filter_nodes(const std::vector<std::string>& nodes);
Bytes encode_filter_tag(const SerfTagFilter& filter);
// These take the whole filter (type byte included) and check the type.
Result<std::vector<std::string>> decode_filter_nodes(ByteView filter);
Result<SerfTagFilter> decode_filter_tag(ByteView filter);

}  // namespace shoal::gossip
