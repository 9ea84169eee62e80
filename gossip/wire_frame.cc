// gossip/wire_frame.cc — the framing around messages: compound, CRC, stream lengths.
#include <algorithm>
#include <array>
#include <cassert>

#include <fmt/format.h>

#include "gossip/msgpack_reader.h"
#include "gossip/wire.h"

namespace shoal::gossip {
namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;  // reflected IEEE
    table[i] = c;
  }
  return table;
}
constexpr auto kCrcTable = make_crc_table();

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

using Length = Result<std::optional<size_t>>;
const Length kNeedMore = std::optional<size_t>();

// The length of one msgpack value at `offset`, or need-more.
Length value_at(ByteView received, size_t offset) {
  if (offset > received.size()) return kNeedMore;
  return msgpack_value_length(received.subspan(offset));
}

// Reads the int64 fields of a complete header struct (the bytes hold exactly that struct).
Status read_header(ByteView bytes, std::string_view name,
                   std::initializer_list<std::pair<std::string_view, int64_t*>> fields) {
  MsgpackReader r(bytes);
  return read_struct(r, name, [&](std::string_view key) -> Status {
    for (const auto& [field, out] : fields) {
      if (key == field) return read_value(r, *out);
    }
    return r.skip();
  });
}

Status check_declared(std::string_view what, int64_t n) {
  if (n < 0 || static_cast<uint64_t>(n) > kMaxPushStateBytes) {
    return Status::corruption(fmt::format("{} of {} (limit {})", what, n, kMaxPushStateBytes));
  }
  return Status();
}

Length push_pull_length(ByteView received) {
  auto hlen = value_at(received, 1);
  if (!hlen.ok() || !hlen->has_value()) return hlen;
  int64_t nodes = 0, user_len = 0;
  SHOAL_RETURN_IF_ERROR(read_header(received.subspan(1, **hlen), "push-pull header",
                                    {{"Nodes", &nodes}, {"UserStateLen", &user_len}}));
  SHOAL_RETURN_IF_ERROR(check_declared("push-pull node count", nodes));
  SHOAL_RETURN_IF_ERROR(check_declared("push-pull user state", user_len));
  size_t pos = 1 + **hlen;
  for (int64_t i = 0; i < nodes; ++i) {
    auto n = value_at(received, pos);
    if (!n.ok() || !n->has_value()) return n;
    pos += **n;
  }
  pos += static_cast<size_t>(user_len);
  return pos <= received.size() ? Length(std::optional<size_t>(pos)) : kNeedMore;
}

Length user_length(ByteView received) {
  auto hlen = value_at(received, 1);
  if (!hlen.ok() || !hlen->has_value()) return hlen;
  int64_t len = 0;
  SHOAL_RETURN_IF_ERROR(read_header(received.subspan(1, **hlen), "user message header",
                                    {{"UserMsgLen", &len}}));
  SHOAL_RETURN_IF_ERROR(check_declared("user message", len));
  const size_t total = 1 + **hlen + static_cast<size_t>(len);
  return total <= received.size() ? Length(std::optional<size_t>(total)) : kNeedMore;
}

}  // namespace

// ---- compound ------------------------------------------------------------------------

Bytes make_compound(const std::vector<Bytes>& parts) {
  assert(parts.size() <= 255);
  Bytes out{static_cast<uint8_t>(MessageType::compound), static_cast<uint8_t>(parts.size())};
  size_t total = out.size() + 2 * parts.size();
  for (const auto& p : parts) total += p.size();
  out.reserve(total);
  for (const auto& p : parts) {
    assert(p.size() < 65536);
    out.push_back(static_cast<uint8_t>(p.size() >> 8));
    out.push_back(static_cast<uint8_t>(p.size()));
  }
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Result<std::vector<ByteView>> split_compound(ByteView body, size_t* truncated_parts) {
  if (truncated_parts) *truncated_parts = 0;
  if (body.empty()) return Status::corruption("compound: missing part count");
  const size_t count = body[0];
  if (body.size() - 1 < 2 * count) {
    return Status::corruption(fmt::format("compound: length table of {} parts cut short", count));
  }
  size_t pos = 1 + 2 * count;
  std::vector<ByteView> parts;
  parts.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const size_t len = (size_t{body[1 + 2 * i]} << 8) | body[2 + 2 * i];
    if (body.size() - pos < len) {
      if (truncated_parts) *truncated_parts = count - i;  // memberlist logs and keeps the rest
      break;
    }
    parts.push_back(body.subspan(pos, len));
    pos += len;
  }
  return parts;
}

// ---- CRC -----------------------------------------------------------------------------

uint32_t crc32_ieee(ByteView data) {
  uint32_t c = 0xffffffffu;
  for (uint8_t b : data) c = kCrcTable[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

Bytes add_crc(ByteView msg) {
  const uint32_t crc = crc32_ieee(msg);
  Bytes out(5 + msg.size());
  out[0] = static_cast<uint8_t>(MessageType::has_crc);
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  std::copy(msg.begin(), msg.end(), out.begin() + 5);
  return out;
}

Result<ByteView> check_crc(ByteView packet) {
  if (packet.size() < 5 || packet[0] != static_cast<uint8_t>(MessageType::has_crc)) return packet;
  const uint32_t expected = load_be32(packet.data() + 1);
  const ByteView msg = packet.subspan(5);
  if (const uint32_t actual = crc32_ieee(msg); actual != expected) {
    return Status::corruption(fmt::format("crc: checksum {:08x} does not match {:08x}", actual, expected));
  }
  return msg;
}

// ---- streams -------------------------------------------------------------------------

Result<std::optional<size_t>> stream_message_length(ByteView received) {
  if (received.empty()) return kNeedMore;
  Length result = kNeedMore;
  switch (static_cast<MessageType>(received[0])) {
    case MessageType::encrypt: {
      if (received.size() < 5) return kNeedMore;
      const uint32_t len = load_be32(received.data() + 1);
      if (len > kMaxPushStateBytes) {
        return Status::corruption(fmt::format("encrypted stream message of {} bytes (limit {})", len, kMaxPushStateBytes));
      }
      const size_t total = size_t{5} + len;
      return total <= received.size() ? Length(std::optional<size_t>(total)) : kNeedMore;
    }
    case MessageType::ping:
    case MessageType::ack:
    case MessageType::err:
    case MessageType::compress: {
      auto len = value_at(received, 1);
      if (!len.ok()) return len.status();
      if (len->has_value()) return std::optional<size_t>(1 + **len);
      break;
    }
    case MessageType::push_pull:
      result = push_pull_length(received);
      break;
    case MessageType::user:
      result = user_length(received);
      break;
    default:
      return Status::corruption(fmt::format("message type {} is not sent on streams", received[0]));
  }
  if (!result.ok() || result->has_value()) return result;
  // Still incomplete: a peer may not make us buffer more than the push-state limit.
  if (received.size() > kMaxPushStateBytes) {
    return Status::corruption(fmt::format("stream message exceeds {} bytes", kMaxPushStateBytes));
  }
  return kNeedMore;
}

}  // namespace shoal::gossip
