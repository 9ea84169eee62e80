// tests/gossip/wire_fuzz_target.h
//
// Feeds one arbitrary byte string through every gossip decoder. Shared by the libFuzzer
// target (tests/fuzz/wire_fuzz.cc) and the bounded randomized run in ctest
// (wire_fuzz_test.cc). Decoders must return a Status, never crash or throw; whatever
// decodes must re-encode to bytes that decode to the same encoding again (a fixed point).
// Returns "" when all is well, else a description of the broken property.
#pragma once

#include <string>

#include "gossip/lzw.h"
#include "gossip/msgpack_reader.h"
#include "gossip/tags.h"
#include "gossip/wire.h"

namespace shoal::gossip::fuzz {

inline constexpr size_t kFuzzMaxOutput = 64 * 1024;

// decode -> encode -> decode -> encode must give the same bytes twice.
template <typename Decode, typename Encode>
std::string check_fixed_point(const char* what, ByteView body, Decode decode, Encode encode) {
  auto first = decode(body);
  if (!first.ok()) return "";
  const Bytes once = encode(*first);
  if (once.empty()) return std::string(what) + ": empty encoding";
  auto second = decode(ByteView(once).subspan(1));
  if (!second.ok()) return std::string(what) + ": re-decode failed: " + second.status().to_string();
  if (encode(*second) != once) return std::string(what) + ": encoding is not a fixed point";
  return "";
}

inline std::string feed_all_decoders(ByteView data) {
  std::string bad;
  auto note = [&](std::string s) {
    if (bad.empty()) bad = std::move(s);
  };
  const ByteView body = data.empty() ? data : data.subspan(1);
  auto enc = [](const auto& m) { return encode(m); };
  auto enc_serf = [](const auto& m) { return encode_serf(m); };
  note(check_fixed_point("ping", body, decode_ping, enc));
  note(check_fixed_point("indirect ping", body, decode_indirect_ping, enc));
  note(check_fixed_point("ack", body, decode_ack, enc));
  note(check_fixed_point("nack", body, decode_nack, enc));
  note(check_fixed_point("err", body, decode_err, enc));
  note(check_fixed_point("suspect", body, decode_suspect, enc));
  note(check_fixed_point("alive", body, decode_alive, enc));
  note(check_fixed_point("dead", body, decode_dead, enc));
  note(check_fixed_point("push-pull", body, decode_push_pull, encode_push_pull));
  note(check_fixed_point("serf leave", body, decode_serf_leave, enc_serf));
  note(check_fixed_point("serf join", body, decode_serf_join, enc_serf));
  note(check_fixed_point("serf push-pull", body, decode_serf_push_pull, enc_serf));
  note(check_fixed_point("serf user event", body, decode_serf_user_event, enc_serf));
  note(check_fixed_point("serf query", body, decode_serf_query, enc_serf));
  note(check_fixed_point("serf query response", body, decode_serf_query_response, enc_serf));

  (void)decode_user_stream(body);
  (void)decode_serf_relay(body);
  (void)decode_filter_nodes(data);
  (void)decode_filter_tag(data);
  (void)decode_tags(data);
  (void)check_crc(data);
  (void)split_compound(body);
  (void)lzw_decompress(data, kFuzzMaxOutput);
  if (auto plain = decode_compress(body, kFuzzMaxOutput); plain.ok()) {
    if (plain->size() > kFuzzMaxOutput) note("compress: output beyond its limit");
  }
  if (auto len = stream_message_length(data); len.ok() && len->has_value()) {
    if (**len > data.size()) note("stream length beyond the bytes given");
  }
  if (auto len = msgpack_value_length(data); len.ok() && len->has_value()) {
    if (**len > data.size()) note("msgpack length beyond the bytes given");
  }
  MsgpackReader r(data);
  while (!r.at_end() && r.skip().ok()) {
  }
  return bad;
}

}  // namespace shoal::gossip::fuzz
