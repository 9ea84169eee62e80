// gossip/msgpack_writer.cc — see the header for the forms chosen and why.
#include "gossip/msgpack_writer.h"

#include <cassert>
#include <limits>

namespace shoal::gossip {
namespace {
// Type bytes of the msgpack specification.
constexpr uint8_t kNil = 0xc0, kFalse = 0xc2, kTrue = 0xc3;
constexpr uint8_t kUint8 = 0xcc, kUint16 = 0xcd, kUint32 = 0xce, kUint64 = 0xcf;
constexpr uint8_t kInt8 = 0xd0, kInt16 = 0xd1, kInt32 = 0xd2, kInt64 = 0xd3;
constexpr uint8_t kFixStr = 0xa0, kStr16 = 0xda, kStr32 = 0xdb;
constexpr uint8_t kFixArray = 0x90, kArray16 = 0xdc, kArray32 = 0xdd;
constexpr uint8_t kFixMap = 0x80, kMap16 = 0xde, kMap32 = 0xdf;
}  // namespace

void MsgpackWriter::put_be(uint64_t value, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out_.push_back(static_cast<uint8_t>(value >> shift));
  }
}

void MsgpackWriter::write_nil() { out_.push_back(kNil); }

void MsgpackWriter::write_bool(bool value) { out_.push_back(value ? kTrue : kFalse); }

void MsgpackWriter::write_uint(uint64_t value) {
  if (value <= 0x7f) {
    out_.push_back(static_cast<uint8_t>(value));
  } else if (value <= 0xff) {
    out_.push_back(kUint8);
    put_be(value, 1);
  } else if (value <= 0xffff) {
    out_.push_back(kUint16);
    put_be(value, 2);
  } else if (value <= 0xffffffffu) {
    out_.push_back(kUint32);
    put_be(value, 4);
  } else {
    out_.push_back(kUint64);
    put_be(value, 8);
  }
}

void MsgpackWriter::write_int(int64_t value) {
  const auto bits = static_cast<uint64_t>(value);
  if (value >= 0) {
    write_uint(bits);  // Go writes every non-negative signed value in the unsigned forms
  } else if (value >= -32) {
    out_.push_back(static_cast<uint8_t>(bits));  // negative fixint
  } else if (value >= std::numeric_limits<int8_t>::min()) {
    out_.push_back(kInt8);
    put_be(bits, 1);
  } else if (value >= std::numeric_limits<int16_t>::min()) {
    out_.push_back(kInt16);
    put_be(bits, 2);
  } else if (value >= std::numeric_limits<int32_t>::min()) {
    out_.push_back(kInt32);
    put_be(bits, 4);
  } else {
    out_.push_back(kInt64);
    put_be(bits, 8);
  }
}

void MsgpackWriter::write_str(std::string_view value) { write_raw(as_bytes(value)); }

void MsgpackWriter::write_raw(ByteView value) {
  const size_t n = value.size();
  assert(n <= std::numeric_limits<uint32_t>::max());
  if (n < 32) {
    out_.push_back(static_cast<uint8_t>(kFixStr | n));
  } else if (n <= 0xffff) {  // no str8: go-msgpack skips it unless WriteExt is set
    out_.push_back(kStr16);
    put_be(n, 2);
  } else {
    out_.push_back(kStr32);
    put_be(n, 4);
  }
  out_.insert(out_.end(), value.begin(), value.end());
}

void MsgpackWriter::write_go_bytes(ByteView value) {
  if (value.empty()) {
    write_nil();
  } else {
    write_raw(value);
  }
}

void MsgpackWriter::write_array_header(size_t count) {
  assert(count <= std::numeric_limits<uint32_t>::max());
  if (count < 16) {
    out_.push_back(static_cast<uint8_t>(kFixArray | count));
  } else if (count <= 0xffff) {
    out_.push_back(kArray16);
    put_be(count, 2);
  } else {
    out_.push_back(kArray32);
    put_be(count, 4);
  }
}

void MsgpackWriter::write_map_header(size_t count) {
  assert(count <= std::numeric_limits<uint32_t>::max());
  if (count < 16) {
    out_.push_back(static_cast<uint8_t>(kFixMap | count));
  } else if (count <= 0xffff) {
    out_.push_back(kMap16);
    put_be(count, 2);
  } else {
    out_.push_back(kMap32);
    put_be(count, 4);
  }
}

}  // namespace shoal::gossip
