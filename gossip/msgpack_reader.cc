// gossip/msgpack_reader.cc — bounded msgpack decoding; see the header for the contract.
#include "gossip/msgpack_reader.h"

#include <fmt/format.h>

namespace shoal::gossip {
namespace {

MsgpackKind kind_of(uint8_t b) {
  if (b <= 0x7f || b >= 0xe0) return MsgpackKind::integer;  // positive / negative fixint
  if (b <= 0x8f) return MsgpackKind::map;
  if (b <= 0x9f) return MsgpackKind::array;
  if (b <= 0xbf) return MsgpackKind::str;
  switch (b) {
    case 0xc0: return MsgpackKind::nil;
    case 0xc2: case 0xc3: return MsgpackKind::boolean;
    case 0xc4: case 0xc5: case 0xc6: return MsgpackKind::bin;
    case 0xc7: case 0xc8: case 0xc9: return MsgpackKind::ext;
    case 0xca: case 0xcb: return MsgpackKind::floating;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return MsgpackKind::ext;
    case 0xd9: case 0xda: case 0xdb: return MsgpackKind::str;
    case 0xdc: case 0xdd: return MsgpackKind::array;
    case 0xde: case 0xdf: return MsgpackKind::map;
    default: break;
  }
  if (b >= 0xcc && b <= 0xd3) return MsgpackKind::integer;
  return MsgpackKind::invalid;  // 0xc1 is never used
}

Status expected(std::string_view what, MsgpackKind got) {
  return Status::corruption(fmt::format("expected {}, got {}", what, msgpack_kind_name(got)));
}

uint64_t load_be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// Shape of the value starting with type byte `b`: bytes of length field after the type
// byte, fixed payload bytes, and whether the length field counts payload bytes or
// children. Covers every msgpack form.
struct Shape {
  size_t len_bytes = 0;     // width of the big-endian length/count field
  size_t fixed = 0;         // payload bytes known from the type byte alone
  uint64_t children = 0;    // nested values known from the type byte alone
  enum { none, payload, array, map } counts = none;  // what the length field counts
  size_t ext_type_byte = 0;  // ext8/16/32 carry a type byte after the length
};

bool shape_of(uint8_t b, Shape& s) {
  if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return true;
  if (b <= 0x8f) { s.children = 2u * (b & 0x0f); return true; }
  if (b <= 0x9f) { s.children = b & 0x0f; return true; }
  if (b <= 0xbf) { s.fixed = b & 0x1f; return true; }
  switch (b) {
    case 0xc4: s.len_bytes = 1; s.counts = Shape::payload; return true;
    case 0xc5: s.len_bytes = 2; s.counts = Shape::payload; return true;
    case 0xc6: s.len_bytes = 4; s.counts = Shape::payload; return true;
    case 0xc7: s.len_bytes = 1; s.counts = Shape::payload; s.ext_type_byte = 1; return true;
    case 0xc8: s.len_bytes = 2; s.counts = Shape::payload; s.ext_type_byte = 1; return true;
    case 0xc9: s.len_bytes = 4; s.counts = Shape::payload; s.ext_type_byte = 1; return true;
    case 0xca: s.fixed = 4; return true;
    case 0xcb: s.fixed = 8; return true;
    case 0xcc: case 0xd0: s.fixed = 1; return true;
    case 0xcd: case 0xd1: s.fixed = 2; return true;
    case 0xce: case 0xd2: s.fixed = 4; return true;
    case 0xcf: case 0xd3: s.fixed = 8; return true;
    case 0xd4: s.fixed = 2; return true;   // fixext: type byte + 1..16 data bytes
    case 0xd5: s.fixed = 3; return true;
    case 0xd6: s.fixed = 5; return true;
    case 0xd7: s.fixed = 9; return true;
    case 0xd8: s.fixed = 17; return true;
    case 0xd9: s.len_bytes = 1; s.counts = Shape::payload; return true;
    case 0xda: s.len_bytes = 2; s.counts = Shape::payload; return true;
    case 0xdb: s.len_bytes = 4; s.counts = Shape::payload; return true;
    case 0xdc: s.len_bytes = 2; s.counts = Shape::array; return true;
    case 0xdd: s.len_bytes = 4; s.counts = Shape::array; return true;
    case 0xde: s.len_bytes = 2; s.counts = Shape::map; return true;
    case 0xdf: s.len_bytes = 4; s.counts = Shape::map; return true;
    default: return false;
  }
}

}  // namespace

std::string_view msgpack_kind_name(MsgpackKind kind) {
  switch (kind) {
    case MsgpackKind::nil: return "nil";
    case MsgpackKind::boolean: return "bool";
    case MsgpackKind::integer: return "integer";
    case MsgpackKind::floating: return "float";
    case MsgpackKind::str: return "str";
    case MsgpackKind::bin: return "bin";
    case MsgpackKind::array: return "array";
    case MsgpackKind::map: return "map";
    case MsgpackKind::ext: return "ext";
    case MsgpackKind::invalid: return "invalid byte 0xc1";
  }
  return "?";
}

// Iterative: a count of values still to walk replaces recursion, so depth is free.
// Every value consumes at least one byte, so the loop ends within data.size() steps.
Result<std::optional<size_t>> msgpack_value_length(ByteView data) {
  size_t pos = 0;
  uint64_t pending = 1;
  while (pending > 0) {
    if (pos >= data.size()) return std::optional<size_t>();
    const uint8_t b = data[pos];
    Shape s;
    if (!shape_of(b, s)) {
      return Status::corruption(fmt::format("invalid msgpack type byte 0x{:02x} at offset {}", b, pos));
    }
    --pending;
    size_t next = pos + 1;
    if (s.len_bytes > 0) {
      if (data.size() - next < s.len_bytes) return std::optional<size_t>();
      const uint64_t n = load_be(data.data() + next, s.len_bytes);
      next += s.len_bytes;
      if (s.counts == Shape::payload) {
        next += s.ext_type_byte;
        if (next > data.size() || data.size() - next < n) return std::optional<size_t>();
        next += static_cast<size_t>(n);
      } else {
        pending += (s.counts == Shape::map) ? 2 * n : n;
      }
    }
    pending += s.children;
    if (s.fixed > 0) next += s.fixed;
    if (next > data.size()) return std::optional<size_t>();
    pos = next;
    // Each value still owed takes at least one byte: stop early (and keep `pending` small).
    if (pending > data.size() - pos) return std::optional<size_t>();
  }
  return std::optional<size_t>(pos);
}

Status MsgpackReader::need(size_t bytes) const {
  if (remaining() >= bytes) return Status();
  return Status::corruption(
      fmt::format("truncated at offset {}: {} bytes needed, {} left", pos_, bytes, remaining()));
}

Result<uint64_t> MsgpackReader::read_be(size_t bytes) {
  SHOAL_RETURN_IF_ERROR(need(bytes));
  const uint64_t v = load_be(data_.data() + pos_, bytes);
  pos_ += bytes;
  return v;
}

Result<MsgpackKind> MsgpackReader::peek() const {
  if (at_end()) return Status::corruption(fmt::format("truncated at offset {}: value expected", pos_));
  return kind_of(data_[pos_]);
}

bool MsgpackReader::try_read_nil() {
  if (!at_end() && data_[pos_] == 0xc0) {
    ++pos_;
    return true;
  }
  return false;
}

Result<int64_t> MsgpackReader::read_int(unsigned bits) {
  auto kind = peek();
  if (!kind.ok()) return kind.status();
  if (*kind != MsgpackKind::integer) return expected("integer", *kind);
  const uint8_t b = data_[pos_++];
  int64_t v = 0;
  if (b <= 0x7f) {
    v = b;
  } else if (b >= 0xe0) {
    v = static_cast<int8_t>(b);
  } else {
    const size_t width = size_t{1} << ((b - 0xcc) & 3);  // 1, 2, 4, 8 bytes
    auto raw = read_be(width);
    if (!raw.ok()) return raw.status();
    if (b <= 0xcf) {  // uint8..uint64
      if (*raw > static_cast<uint64_t>(INT64_MAX)) {
        return Status::corruption(fmt::format("integer {} overflows int64", *raw));
      }
      v = static_cast<int64_t>(*raw);
    } else {  // int8..int64: sign-extend from `width` bytes
      const unsigned shift = 64 - 8 * static_cast<unsigned>(width);
      v = static_cast<int64_t>(*raw << shift) >> shift;
    }
  }
  if (bits < 64) {
    const int64_t lo = -(int64_t{1} << (bits - 1));
    const int64_t hi = (int64_t{1} << (bits - 1)) - 1;
    if (v < lo || v > hi) return Status::corruption(fmt::format("integer {} overflows int{}", v, bits));
  }
  return v;
}

Result<uint64_t> MsgpackReader::read_uint(unsigned bits) {
  auto kind = peek();
  if (!kind.ok()) return kind.status();
  if (*kind != MsgpackKind::integer) return expected("integer", *kind);
  const uint8_t b = data_[pos_];
  uint64_t v = 0;
  if (b >= 0xcc && b <= 0xcf) {
    ++pos_;
    auto raw = read_be(size_t{1} << (b - 0xcc));
    if (!raw.ok()) return raw.status();
    v = *raw;
  } else {
    auto s = read_int(64);
    if (!s.ok()) return s.status();
    if (*s < 0) return Status::corruption(fmt::format("negative integer {} for an unsigned value", *s));
    v = static_cast<uint64_t>(*s);
  }
  if (bits < 64 && (v >> bits) != 0) {
    return Status::corruption(fmt::format("integer {} overflows uint{}", v, bits));
  }
  return v;
}

Result<bool> MsgpackReader::read_bool() {
  auto kind = peek();
  if (!kind.ok()) return kind.status();
  const uint8_t b = data_[pos_];
  if (b == 0xc2 || b == 0x00) { ++pos_; return false; }  // Go also reads 0 and 1 as bools
  if (b == 0xc3 || b == 0x01) { ++pos_; return true; }
  return expected("bool", *kind);
}

Result<ByteView> MsgpackReader::read_raw() {
  auto kind = peek();
  if (!kind.ok()) return kind.status();
  if (*kind != MsgpackKind::str && *kind != MsgpackKind::bin) return expected("str or bin", *kind);
  const uint8_t b = data_[pos_++];
  uint64_t n = 0;
  if (b >= 0xa0 && b <= 0xbf) {
    n = b & 0x1f;
  } else {
    const size_t width = (b == 0xc4 || b == 0xd9) ? 1 : (b == 0xc5 || b == 0xda) ? 2 : 4;
    auto len = read_be(width);
    if (!len.ok()) return len.status();
    n = *len;
  }
  if (n > remaining()) {
    return Status::corruption(fmt::format("truncated at offset {}: string of {} bytes, {} left", pos_, n, remaining()));
  }
  ByteView out = data_.subspan(pos_, static_cast<size_t>(n));
  pos_ += static_cast<size_t>(n);
  return out;
}

Result<uint32_t> MsgpackReader::read_array_header() {
  auto kind = peek();
  if (!kind.ok()) return kind.status();
  if (*kind != MsgpackKind::array) return expected("array", *kind);
  const uint8_t b = data_[pos_++];
  uint64_t n = b & 0x0f;
  if (b == 0xdc || b == 0xdd) {
    auto len = read_be(b == 0xdc ? 2 : 4);
    if (!len.ok()) return len.status();
    n = *len;
  }
  if (n > remaining()) {
    return Status::corruption(fmt::format("array of {} elements in {} bytes", n, remaining()));
  }
  return static_cast<uint32_t>(n);
}

Result<uint32_t> MsgpackReader::read_map_header() {
  auto kind = peek();
  if (!kind.ok()) return kind.status();
  if (*kind != MsgpackKind::map) return expected("map", *kind);
  const uint8_t b = data_[pos_++];
  uint64_t n = b & 0x0f;
  if (b == 0xde || b == 0xdf) {
    auto len = read_be(b == 0xde ? 2 : 4);
    if (!len.ok()) return len.status();
    n = *len;
  }
  if (n > remaining() / 2) {
    return Status::corruption(fmt::format("map of {} entries in {} bytes", n, remaining()));
  }
  return static_cast<uint32_t>(n);
}

Status MsgpackReader::skip() {
  auto len = msgpack_value_length(rest());
  if (!len.ok()) return len.status();
  if (!len->has_value()) return Status::corruption(fmt::format("truncated value at offset {}", pos_));
  pos_ += **len;
  return Status();
}

// ---- Go conventions ----------------------------------------------------------------

namespace {
template <typename T>
Status read_unsigned(MsgpackReader& r, T& out) {
  if (r.try_read_nil()) { out = 0; return Status(); }
  auto v = r.read_uint(sizeof(T) * 8);
  if (!v.ok()) return v.status();
  out = static_cast<T>(*v);
  return Status();
}
}  // namespace

Status read_value(MsgpackReader& r, uint8_t& out) { return read_unsigned(r, out); }
Status read_value(MsgpackReader& r, uint16_t& out) { return read_unsigned(r, out); }
Status read_value(MsgpackReader& r, uint32_t& out) { return read_unsigned(r, out); }
Status read_value(MsgpackReader& r, uint64_t& out) { return read_unsigned(r, out); }

Status read_value(MsgpackReader& r, int64_t& out) {
  if (r.try_read_nil()) { out = 0; return Status(); }
  auto v = r.read_int(64);
  if (!v.ok()) return v.status();
  out = *v;
  return Status();
}

Status read_value(MsgpackReader& r, bool& out) {
  if (r.try_read_nil()) { out = false; return Status(); }
  auto v = r.read_bool();
  if (!v.ok()) return v.status();
  out = *v;
  return Status();
}

Status read_value(MsgpackReader& r, std::string& out) {
  if (r.try_read_nil()) { out.clear(); return Status(); }
  auto v = r.read_raw();
  if (!v.ok()) return v.status();
  out.assign(as_string_view(*v));
  return Status();
}

Status read_value(MsgpackReader& r, Bytes& out) {
  if (r.try_read_nil()) { out.clear(); return Status(); }
  auto v = r.read_raw();
  if (!v.ok()) return v.status();
  out.assign(v->begin(), v->end());
  return Status();
}

namespace {
template <typename T>
Status read_list(MsgpackReader& r, std::vector<T>& out) {
  out.clear();
  if (r.try_read_nil()) return Status();
  auto n = r.read_array_header();
  if (!n.ok()) return n.status();
  out.reserve(*n);  // safe: bounded by the bytes left
  for (uint32_t i = 0; i < *n; ++i) {
    T item;
    Status s = read_value(r, item);
    if (!s.ok()) return s.with_context(fmt::format("element {}", i));
    out.push_back(std::move(item));
  }
  return Status();
}

template <typename V>
Status read_string_map(MsgpackReader& r, std::map<std::string, V>& out) {
  out.clear();
  if (r.try_read_nil()) return Status();
  auto n = r.read_map_header();
  if (!n.ok()) return n.status();
  for (uint32_t i = 0; i < *n; ++i) {
    std::string key;
    Status s = read_value(r, key);
    if (!s.ok()) return s.with_context("map key");
    V value{};
    s = read_value(r, value);
    if (!s.ok()) return s.with_context(fmt::format("map value of {}", printable_name(as_bytes(key))));
    out[std::move(key)] = std::move(value);  // last duplicate wins, as in Go
  }
  return Status();
}
}  // namespace

Status read_value(MsgpackReader& r, std::vector<std::string>& out) { return read_list(r, out); }
Status read_value(MsgpackReader& r, std::vector<Bytes>& out) { return read_list(r, out); }
Status read_value(MsgpackReader& r, std::map<std::string, std::string>& out) {
  return read_string_map(r, out);
}
Status read_value(MsgpackReader& r, std::map<std::string, uint64_t>& out) {
  return read_string_map(r, out);
}

std::string printable_name(ByteView name) {
  std::string out;
  for (size_t i = 0; i < name.size() && out.size() < 40; ++i) {
    const uint8_t c = name[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (out.size() >= 40) out += "...";
  return out;
}

}  // namespace shoal::gossip
