#include "gossip/snapshot.h"

#include <fmt/format.h>

#include "gossip/wire.h"

namespace shoal::gossip {

namespace {

constexpr size_t kHeader = 8;  // length, ~length, crc
// Names are at most 128 bytes and addresses short, so a record is far below this; a larger
// length is a corrupt header, not a record torn by a crash.
constexpr size_t kMaxRecord = 1024;

void put_u16(Bytes& b, size_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void put_u32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_str(Bytes& b, const std::string& s) {
  put_u16(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}
uint32_t get_u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// Reads a u16-prefixed string from `body` at `pos`; false if it runs past the end.
bool get_str(ByteView body, size_t& pos, std::string& out) {
  if (pos + 2 > body.size()) return false;
  const size_t n = size_t(body[pos]) | size_t(body[pos + 1]) << 8;
  pos += 2;
  if (pos + n > body.size()) return false;
  out.assign(reinterpret_cast<const char*>(body.data() + pos), n);
  pos += n;
  return true;
}

Result<SnapshotRecord> decode_body(ByteView body) {
  SnapshotRecord r;
  r.type = static_cast<SnapshotRecordType>(body[0]);
  size_t pos = 1;
  switch (r.type) {
    case SnapshotRecordType::alive:
      if (!get_str(body, pos, r.name) || !get_str(body, pos, r.addr)) {
        return Status::corruption("alive record runs past its length");
      }
      if (r.name.empty()) return Status::corruption("alive record with an empty name");
      break;
    case SnapshotRecordType::not_alive:
      if (!get_str(body, pos, r.name)) {
        return Status::corruption("not-alive record runs past its length");
      }
      break;
    case SnapshotRecordType::clock:
    case SnapshotRecordType::event_clock:
    case SnapshotRecordType::query_clock:
      if (body.size() != 9) return Status::corruption("clock record is not 8 bytes");
      for (int i = 0; i < 8; ++i) r.value |= uint64_t(body[1 + i]) << (8 * i);
      pos = 9;
      break;
    case SnapshotRecordType::leave:
      break;
    default:
      return Status::corruption(fmt::format("unknown record type {}", body[0]));
  }
  if (pos != body.size()) return Status::corruption("record has trailing bytes");
  return r;
}

}  // namespace

Bytes encode_snapshot_record(const SnapshotRecord& r) {
  Bytes body;
  body.push_back(static_cast<uint8_t>(r.type));
  switch (r.type) {
    case SnapshotRecordType::alive:
      put_str(body, r.name);
      put_str(body, r.addr);
      break;
    case SnapshotRecordType::not_alive:
      put_str(body, r.name);
      break;
    case SnapshotRecordType::clock:
    case SnapshotRecordType::event_clock:
    case SnapshotRecordType::query_clock:
      for (int i = 0; i < 8; ++i) body.push_back(static_cast<uint8_t>(r.value >> (8 * i)));
      break;
    case SnapshotRecordType::leave:
      break;
  }
  Bytes out;
  out.reserve(kHeader + body.size());
  put_u16(out, body.size());
  put_u16(out, ~body.size() & 0xffff);
  put_u32(out, crc32_ieee(body));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

void SnapshotState::apply(const SnapshotRecord& r, bool rejoin_after_leave) {
  switch (r.type) {
    case SnapshotRecordType::alive:
      alive[r.name] = r.addr;
      left = false;
      break;
    case SnapshotRecordType::not_alive:
      alive.erase(r.name);
      break;
    case SnapshotRecordType::clock:
      clock = std::max(clock, r.value);
      break;
    case SnapshotRecordType::event_clock:
      event_clock = std::max(event_clock, r.value);
      break;
    case SnapshotRecordType::query_clock:
      query_clock = std::max(query_clock, r.value);
      break;
    case SnapshotRecordType::leave:
      left = true;
      if (!rejoin_after_leave) alive.clear();
      break;
  }
}

Bytes SnapshotState::compacted() const {
  Bytes out(kSnapshotMagic.begin(), kSnapshotMagic.end());
  auto add = [&](const SnapshotRecord& r) {
    Bytes rec = encode_snapshot_record(r);
    out.insert(out.end(), rec.begin(), rec.end());
  };
  for (const auto& [name, addr] : alive) add({SnapshotRecordType::alive, name, addr, 0});
  add({SnapshotRecordType::clock, "", "", clock});
  add({SnapshotRecordType::event_clock, "", "", event_clock});
  add({SnapshotRecordType::query_clock, "", "", query_clock});
  if (left) add({SnapshotRecordType::leave, "", "", 0});
  return out;
}

Result<SnapshotReplay> replay_snapshot(ByteView file, bool rejoin_after_leave) {
  SnapshotReplay out;
  if (file.empty()) return out;
  if (file.size() < kSnapshotMagic.size() ||
      std::string_view(reinterpret_cast<const char*>(file.data()), kSnapshotMagic.size()) !=
          kSnapshotMagic) {
    return Status::corruption("not a shoal snapshot (bad magic at offset 0)");
  }
  size_t pos = kSnapshotMagic.size();
  out.valid_bytes = pos;
  while (pos < file.size()) {
    if (file.size() - pos < kHeader) {
      out.torn_tail = true;
      break;
    }
    const uint8_t* h = file.data() + pos;
    const size_t len = size_t(h[0]) | size_t(h[1]) << 8;
    const size_t check = size_t(h[2]) | size_t(h[3]) << 8;
    const uint32_t crc = get_u32(h + 4);
    if ((len ^ 0xffff) != check || len == 0 || len > kMaxRecord) {
      return Status::corruption(
          fmt::format("record at offset {} has a damaged length ({})", pos, len));
    }
    if (file.size() - pos - kHeader < len) {
      out.torn_tail = true;
      break;
    }
    const ByteView body = file.subspan(pos + kHeader, len);
    if (crc32_ieee(body) != crc) {
      return Status::corruption(fmt::format("record at offset {} fails its checksum", pos));
    }
    auto rec = decode_body(body);
    if (!rec.ok()) {
      return Status::corruption(fmt::format("record at offset {}: {}", pos, rec.status().message()));
    }
    out.state.apply(*rec, rejoin_after_leave);
    pos += kHeader + len;
    out.valid_bytes = pos;
  }
  return out;
}

}  // namespace shoal::gossip
