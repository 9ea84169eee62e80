// tests/raft/wire_fuzz_target.h
//
// Feeds one arbitrary byte string through the Raft wire decoders: as a frame stream (split
// at an input-chosen point), as a hello and as a batch payload. Shared by the libFuzzer
// target (tests/fuzz/raft_wire_fuzz.cc) and the bounded randomized ctest (wire_test.cc).
// Decoders must return a Status, never crash or throw; whatever decodes must re-encode to
// the same bytes' meaning (decode(encode(decode(x))) == decode(x)).
// Returns "" when all is well, else a description of the broken property.
#pragma once

#include <string>

#include "raft/wire.h"

namespace shoal::raft::fuzz {

inline std::string feed_wire_decoders(ByteView data) {
  // As a stream of frames, fed in two pieces.
  FrameDecoder d(1 << 20);
  const size_t split = data.empty() ? 0 : data[0] % (data.size() + 1);
  d.feed(data.first(split));
  d.feed(data.subspan(split));
  for (int i = 0; i < 1000; ++i) {
    auto f = d.next();
    if (!f.ok() || !*f) break;
    (void)decode_hello(**f);
    (void)decode_batch(**f, "x", "y");
  }
  if (auto h = decode_hello(data); h.ok()) {
    auto again = decode_hello(encode_hello(*h));
    if (!again.ok() || !(*again == *h)) return "hello: re-encoding does not decode the same";
  }
  if (auto b = decode_batch(data, "x", "y"); b.ok()) {
    const Bytes once = encode_batch(*b);
    auto again = decode_batch(once, "x", "y");
    if (!again.ok()) return "batch: re-decode failed: " + again.status().to_string();
    if (encode_batch(*again) != once) return "batch: encoding is not a fixed point";
  }
  return "";
}

}  // namespace shoal::raft::fuzz
