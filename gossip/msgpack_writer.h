// gossip/msgpack_writer.h
//
// MsgpackWriter: appends msgpack values to a caller-owned Bytes buffer, choosing exactly
// the forms that Go's hashicorp/go-msgpack MsgpackHandle{} (default settings, WriteExt
// false) chooses, so that our packets are byte-identical to a serf agent's:
//  - unsigned integers: positive fixint up to 127, then uint8/16/32/64 by magnitude;
//  - signed integers: non-negative values as unsigned, then negative fixint, int8..int64;
//  - strings AND byte slices: the old "raw" family only: fixstr (< 32), str16, str32.
//    The str8 (0xd9) and bin forms are never written: old Go peers cannot read bin,
//    and go-msgpack only emits str8 when WriteExt is set;
//  - arrays and maps: fix form (< 16 entries), then 16-bit, then 32-bit counts.
//
// Contract:
//  - The writer borrows `out` and appends to it; `out` must outlive the writer.
//  - Writing cannot fail. REQUIRES: every length fits in 32 bits (asserted); callers that
//    take lengths from peers check their own limits first.
//  - The writer does not track structure: a map header of n entries must be followed by
//    exactly n key/value pairs. wire.cc writes Go structs as maps with keys in Go's order
//    (sorted by field name, byte-wise), which is what go-msgpack does.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.h"

namespace shoal::gossip {

class MsgpackWriter {
 public:
  explicit MsgpackWriter(Bytes& out) : out_(out) {}

  void write_nil();
  void write_bool(bool value);
  void write_uint(uint64_t value);
  void write_int(int64_t value);
  // A Go string: always a str, even when empty.
  void write_str(std::string_view value);
  // Raw bytes in the str family (a Go []byte that is not nil).
  void write_raw(ByteView value);
  // A Go []byte field as Shoal holds it: empty means nil (Go's zero slice), which is what a
  // Go sender emits for an unset slice (0xc0); readers accept both nil and "".
  void write_go_bytes(ByteView value);
  void write_array_header(size_t count);
  void write_map_header(size_t count);

  // Key and value of one struct field, for readable encoders.
  void key(std::string_view field_name) { write_str(field_name); }

 private:
  void put_be(uint64_t value, int bytes);
  Bytes& out_;
};

}  // namespace shoal::gossip
