#include "raft/codec.h"

#include <fmt/format.h>

#include <cstring>

#include "raft/crc32c.h"

namespace shoal::raft::codec {

namespace {

// Node ids are names, not payloads; a longer one is a sign of garbage.
constexpr uint32_t kMaxIdBytes = 4096;
constexpr uint32_t kMaxMembers = 1 << 16;

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(v); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void bytes(ByteView b) {
    u32(static_cast<uint32_t>(b.size()));
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void str(std::string_view s) { bytes(as_bytes(s)); }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

// Reads fields in order; the first failure sticks and later reads return zeros, so a decoder
// checks ok() once at the end instead of after every field.
class Reader {
 public:
  Reader(ByteView in, const char* what) : in_(in), what_(what) {}

  uint8_t u8() { return static_cast<uint8_t>(fixed(1)); }
  uint32_t u32() { return static_cast<uint32_t>(fixed(4)); }
  uint64_t u64() { return fixed(8); }
  ByteView bytes(uint32_t limit) {
    const uint32_t n = u32();
    if (!error_.empty()) return {};
    if (n > limit) return fail(fmt::format("length {} over limit {}", n, limit)), ByteView{};
    if (n > remaining()) return fail(fmt::format("length {} past end", n)), ByteView{};
    ByteView out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  std::string str(uint32_t limit) {
    ByteView b = bytes(limit);
    return std::string(as_string_view(b));
  }
  void fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }
  Status finish() {
    if (error_.empty() && remaining() != 0) fail(fmt::format("{} trailing bytes", remaining()));
    if (error_.empty()) return Status::ok_status();
    return Status::corruption(fmt::format("{}: {}", what_, error_));
  }

 private:
  size_t remaining() const { return in_.size() - pos_; }
  uint64_t fixed(size_t n) {
    if (!error_.empty()) return 0;
    if (remaining() < n) return fail(fmt::format("truncated at byte {}", pos_)), 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{in_[pos_ + i]} << (8 * i);
    pos_ += n;
    return v;
  }

  ByteView in_;
  size_t pos_ = 0;
  const char* what_;
  std::string error_;
};

void write_ids(Writer& w, const std::vector<NodeId>& ids) {
  w.u32(static_cast<uint32_t>(ids.size()));
  for (const auto& id : ids) w.str(id);
}
std::vector<NodeId> read_ids(Reader& r) {
  const uint32_t n = r.u32();
  if (n > kMaxMembers) {
    r.fail(fmt::format("{} members over limit", n));
    return {};
  }
  std::vector<NodeId> ids;
  for (uint32_t i = 0; i < n; ++i) ids.push_back(r.str(kMaxIdBytes));
  return ids;
}

}  // namespace

Bytes encode_entry(const Entry& e) {
  Writer w;
  w.u64(e.term);
  w.u64(e.index);
  w.u8(static_cast<uint8_t>(e.type));
  w.bytes(e.data);
  return w.take();
}

Result<Entry> decode_entry(ByteView bytes) {
  Reader r(bytes, "log entry");
  Entry e;
  e.term = r.u64();
  e.index = r.u64();
  const uint8_t type = r.u8();
  if (type > static_cast<uint8_t>(EntryType::noop)) r.fail(fmt::format("entry type {}", type));
  e.type = static_cast<EntryType>(type);
  ByteView data = r.bytes(UINT32_MAX);
  e.data.assign(data.begin(), data.end());
  SHOAL_RETURN_IF_ERROR(r.finish());
  return e;
}

Bytes encode_hard_state(const HardState& hs) {
  Writer w;
  w.u64(hs.term);
  w.u64(hs.commit);
  w.str(hs.vote);
  return w.take();
}

Result<HardState> decode_hard_state(ByteView bytes) {
  Reader r(bytes, "hard state");
  HardState hs;
  hs.term = r.u64();
  hs.commit = r.u64();
  hs.vote = r.str(kMaxIdBytes);
  SHOAL_RETURN_IF_ERROR(r.finish());
  return hs;
}

Bytes encode_snapshot_meta(const SnapshotMeta& meta) {
  Writer w;
  w.u64(meta.index);
  w.u64(meta.term);
  write_ids(w, meta.config.voters);
  write_ids(w, meta.config.learners);
  return w.take();
}

Result<SnapshotMeta> decode_snapshot_meta(ByteView bytes) {
  Reader r(bytes, "snapshot metadata");
  SnapshotMeta meta;
  meta.index = r.u64();
  meta.term = r.u64();
  meta.config.voters = read_ids(r);
  meta.config.learners = read_ids(r);
  SHOAL_RETURN_IF_ERROR(r.finish());
  return meta;
}

Bytes encode_config_change(const ConfigChange& change) {
  Writer w;
  w.u8(static_cast<uint8_t>(change.type));
  w.str(change.node);
  return w.take();
}

Result<ConfigChange> decode_config_change(ByteView bytes) {
  Reader r(bytes, "config change");
  ConfigChange change;
  const uint8_t type = r.u8();
  if (type > static_cast<uint8_t>(ConfigChangeType::remove)) {
    r.fail(fmt::format("change type {}", type));
  }
  change.type = static_cast<ConfigChangeType>(type);
  change.node = r.str(kMaxIdBytes);
  if (change.node.empty()) r.fail("empty node id");
  SHOAL_RETURN_IF_ERROR(r.finish());
  return change;
}

Bytes seal(std::string_view key, ByteView payload) {
  const uint32_t crc = crc32c::extend(crc32c::value(as_bytes(key)), payload);
  Writer w;
  w.u32(crc32c::mask(crc));
  Bytes out = w.take();
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Result<ByteView> unseal(std::string_view key, ByteView value) {
  if (value.size() < 4) {
    return Status::corruption(fmt::format("record of {} bytes is shorter than its checksum",
                                          value.size()));
  }
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) stored |= uint32_t{value[i]} << (8 * i);
  ByteView payload = value.subspan(4);
  const uint32_t actual = crc32c::extend(crc32c::value(as_bytes(key)), payload);
  if (crc32c::unmask(stored) != actual) {
    return Status::corruption(
        fmt::format("checksum mismatch (stored {:08x}, computed {:08x})", crc32c::unmask(stored),
                    actual));
  }
  return payload;
}

}  // namespace shoal::raft::codec
