#include "raft/msgpack.h"

#include <fmt/format.h>

namespace shoal::raft::msgpack {

void MsgWriter::be(uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void MsgWriter::uint(uint64_t v) {
  if (v < 0x80) {
    out_.push_back(static_cast<uint8_t>(v));
  } else if (v <= 0xff) {
    out_.push_back(0xcc), be(v, 1);
  } else if (v <= 0xffff) {
    out_.push_back(0xcd), be(v, 2);
  } else if (v <= 0xffffffff) {
    out_.push_back(0xce), be(v, 4);
  } else {
    out_.push_back(0xcf), be(v, 8);
  }
}

void MsgWriter::str(std::string_view s) {
  const size_t n = s.size();
  if (n < 32) {
    out_.push_back(static_cast<uint8_t>(0xa0 | n));
  } else if (n <= 0xff) {
    out_.push_back(0xd9), be(n, 1);
  } else if (n <= 0xffff) {
    out_.push_back(0xda), be(n, 2);
  } else {
    out_.push_back(0xdb), be(n, 4);
  }
  out_.insert(out_.end(), s.begin(), s.end());
}

void MsgWriter::bin(ByteView b) {
  const size_t n = b.size();
  if (n <= 0xff) {
    out_.push_back(0xc4), be(n, 1);
  } else if (n <= 0xffff) {
    out_.push_back(0xc5), be(n, 2);
  } else {
    out_.push_back(0xc6), be(n, 4);
  }
  out_.insert(out_.end(), b.begin(), b.end());
}

void MsgWriter::array(uint32_t n) {
  if (n < 16) {
    out_.push_back(static_cast<uint8_t>(0x90 | n));
  } else if (n <= 0xffff) {
    out_.push_back(0xdc), be(n, 2);
  } else {
    out_.push_back(0xdd), be(n, 4);
  }
}

void MsgReader::fail(std::string why) {
  if (error_.empty()) error_ = fmt::format("{} (at byte {})", why, pos_);
}

bool MsgReader::take(size_t n, ByteView* out) {
  if (!ok()) return false;
  if (n > remaining()) {
    fail(fmt::format("truncated: {} bytes needed, {} left", n, remaining()));
    return false;
  }
  if (out) *out = in_.subspan(pos_, n);
  pos_ += n;
  return true;
}

uint64_t MsgReader::be(int width) {
  ByteView b;
  if (!take(static_cast<size_t>(width), &b)) return 0;
  uint64_t v = 0;
  for (uint8_t c : b) v = (v << 8) | c;
  return v;
}

uint64_t MsgReader::uint() {
  ByteView t;
  if (!take(1, &t)) return 0;
  const uint8_t tag = t[0];
  if (tag < 0x80) return tag;
  switch (tag) {
    case 0xcc: return be(1);
    case 0xcd: return be(2);
    case 0xce: return be(4);
    case 0xcf: return be(8);
    default: fail(fmt::format("expected an unsigned integer, got type byte 0x{:02x}", tag));
  }
  return 0;
}

bool MsgReader::boolean() {
  ByteView t;
  if (!take(1, &t)) return false;
  if (t[0] == 0xc2) return false;
  if (t[0] == 0xc3) return true;
  fail(fmt::format("expected a boolean, got type byte 0x{:02x}", t[0]));
  return false;
}

std::string MsgReader::str(size_t max_bytes) {
  ByteView t;
  if (!take(1, &t)) return {};
  size_t n = 0;
  const uint8_t tag = t[0];
  if ((tag & 0xe0) == 0xa0) {
    n = tag & 0x1f;
  } else if (tag == 0xd9) {
    n = be(1);
  } else if (tag == 0xda) {
    n = be(2);
  } else if (tag == 0xdb) {
    n = be(4);
  } else {
    fail(fmt::format("expected a string, got type byte 0x{:02x}", tag));
    return {};
  }
  if (ok() && n > max_bytes) {
    fail(fmt::format("string of {} bytes exceeds the limit of {}", n, max_bytes));
    return {};
  }
  ByteView b;
  if (!take(n, &b)) return {};
  return std::string(as_string_view(b));
}

Bytes MsgReader::bin(size_t max_bytes) {
  ByteView t;
  if (!take(1, &t)) return {};
  size_t n = 0;
  switch (t[0]) {
    case 0xc4: n = be(1); break;
    case 0xc5: n = be(2); break;
    case 0xc6: n = be(4); break;
    default: fail(fmt::format("expected binary data, got type byte 0x{:02x}", t[0])); return {};
  }
  if (ok() && n > max_bytes) {
    fail(fmt::format("binary of {} bytes exceeds the limit of {}", n, max_bytes));
    return {};
  }
  ByteView b;
  if (!take(n, &b)) return {};
  return Bytes(b.begin(), b.end());
}

uint32_t MsgReader::array() {
  ByteView t;
  if (!take(1, &t)) return 0;
  uint64_t n = 0;
  const uint8_t tag = t[0];
  if ((tag & 0xf0) == 0x90) {
    n = tag & 0x0f;
  } else if (tag == 0xdc) {
    n = be(2);
  } else if (tag == 0xdd) {
    n = be(4);
  } else {
    fail(fmt::format("expected an array, got type byte 0x{:02x}", tag));
    return 0;
  }
  if (ok() && n > remaining()) {
    fail(fmt::format("array of {} elements in {} bytes", n, remaining()));
    return 0;
  }
  return ok() ? static_cast<uint32_t>(n) : 0;
}

uint32_t MsgReader::array(uint32_t min, uint32_t max) {
  const uint32_t n = array();
  if (ok() && (n < min || n > max)) {
    fail(fmt::format("array of {} elements, expected {} to {}", n, min, max));
    return 0;
  }
  return n;
}

}  // namespace shoal::raft::msgpack
