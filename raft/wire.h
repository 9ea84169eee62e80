// raft/wire.h
//
// The node-to-node wire format of the Raft host: length-prefixed frames whose payload is
// MessagePack. One TCP connection per peer pair carries, after a Hello from each side,
// Batch frames: every message the host has for that peer in one loop turn, for all of its
// groups (this is where heartbeats of many groups coalesce into one frame).
//
//   frame   = u32 big-endian payload length, payload (at most kMaxFrameBytes)
//   payload = [0, "shoal-raft", version, node]                      Hello
//           | [1, [envelope...]]                                    Batch
//   envelope = [group, kind, term, fields...]   (kind and fields: wire.cc, docs/raft.md)
//
// A message's `from` and `to` are not on the wire: they are the connection's two ends,
// as established by the Hello frames. The node-to-node channel (node/secure/, keyed with
// the cluster secret) seals the byte stream of frames below this format.
//
// Contract:
//  - Decoders never throw and never read outside their input; they return
//    Status::invalid_argument naming the problem (bad type, truncation, a count or length
//    past its limit, trailing bytes). Nothing is allocated beyond what the input holds.
//  - decode(encode(x)) == x for every message the core can produce.
//  - FrameDecoder is a byte-stream reassembler: feed() what the socket read, then take
//    frames with next() until it says there is none. A length over kMaxFrameBytes is an
//    error that sticks: the connection must be closed.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "raft/types.h"

namespace shoal::raft {

using GroupId = uint64_t;

// 2: Heartbeat carries `quiesce`.
inline constexpr uint32_t kWireVersion = 2;
inline constexpr size_t kMaxFrameBytes = 64u << 20;
inline constexpr size_t kMaxNodeIdBytes = 255;

struct Hello {
  uint32_t version = kWireVersion;
  NodeId node;
  bool operator==(const Hello&) const = default;
};

// One Raft message for one group.
struct Envelope {
  GroupId group = 0;
  Message message;
};

Bytes encode_hello(const Hello& hello);
Result<Hello> decode_hello(ByteView payload);

// The messages' headers must say from -> to; they are not encoded.
Bytes encode_batch(const std::vector<Envelope>& batch);
// Fills in each message's from / to from the connection's ends.
Result<std::vector<Envelope>> decode_batch(ByteView payload, const NodeId& from,
                                           const NodeId& to);

// Appends one frame (length prefix + payload) to `out`.
void append_frame(Bytes& out, ByteView payload);

class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_frame = kMaxFrameBytes) : max_frame_(max_frame) {}
  void feed(ByteView data);
  // The next complete frame's payload, nullopt if more bytes are needed, or an error.
  Result<std::optional<Bytes>> next();
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  size_t max_frame_;
  Bytes buf_;
  size_t pos_ = 0;
  Status error_;
};

}  // namespace shoal::raft
