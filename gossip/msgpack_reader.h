// gossip/msgpack_reader.h
//
// MsgpackReader: a bounded msgpack reader for bytes that came from the network.
// Hand-rolled instead of msgpack-c's unpack because unpack allocates from lengths in the
// input before it knows the bytes exist; here every length is checked against the bytes
// that remain before it is used, and nothing is allocated on the peer's say-so.
//
// It accepts every form a Go peer (hashicorp/go-msgpack, any version) may send:
// str and bin of every width for both strings and byte slices, every integer width as
// long as the value fits the target, nil for any value (read as the zero value, as Go
// does), and 0/1 for booleans (Go accepts those too).
//
// Contract:
//  - The reader borrows the input; every ByteView it returns points into that input and
//    is valid only while the caller's buffer lives.
//  - Errors are Status::corruption with a message naming what was expected and found
//    ("expected integer, got str"); read_struct() prefixes the type and field name
//    ("ping: field SeqNo: expected integer, got str"). After an error the position is
//    unspecified and the reader should be dropped.
//  - skip() walks nested values iteratively (a count of pending values, no recursion),
//    so hostile nesting cannot exhaust the stack. No exceptions are thrown.
//  - Not thread-safe; cheap to construct; one per message.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace shoal::gossip {

enum class MsgpackKind : uint8_t { nil, boolean, integer, floating, str, bin, array, map, ext, invalid };
std::string_view msgpack_kind_name(MsgpackKind kind);

class MsgpackReader {
 public:
  explicit MsgpackReader(ByteView data) : data_(data) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  ByteView rest() const { return data_.subspan(pos_); }
  bool at_end() const { return pos_ == data_.size(); }

  // The kind of the next value without consuming it; corruption when nothing is left.
  Result<MsgpackKind> peek() const;
  // Consumes a nil if one is next; returns whether it did.
  bool try_read_nil();

  // Any integer form whose value fits in `bits` bits (unsigned, or two's complement).
  Result<uint64_t> read_uint(unsigned bits = 64);
  Result<int64_t> read_int(unsigned bits = 64);
  Result<bool> read_bool();
  // str or bin of any width, as a view into the input.
  Result<ByteView> read_raw();
  // Counts are checked against the bytes left (an entry takes at least one byte per
  // element), so a caller may reserve() the result without trusting the peer.
  Result<uint32_t> read_array_header();
  Result<uint32_t> read_map_header();
  // Skips one whole value, however nested.
  Status skip();

 private:
  Result<uint64_t> read_be(size_t bytes);
  Status need(size_t bytes) const;
  ByteView data_;
  size_t pos_ = 0;
};

// The length of the first complete msgpack value in `data`; std::nullopt if `data` ends
// before the value does (more bytes are needed), corruption if the bytes cannot start a
// value. For reading one message off a stream that has no length prefix.
Result<std::optional<size_t>> msgpack_value_length(ByteView data);

// ---- Go conventions on top of the reader ---------------------------------------------

// Field readers: nil reads as the zero value, as in Go.
Status read_value(MsgpackReader& r, bool& out);
Status read_value(MsgpackReader& r, uint8_t& out);
Status read_value(MsgpackReader& r, uint16_t& out);
Status read_value(MsgpackReader& r, uint32_t& out);
Status read_value(MsgpackReader& r, uint64_t& out);
Status read_value(MsgpackReader& r, int64_t& out);
Status read_value(MsgpackReader& r, std::string& out);
Status read_value(MsgpackReader& r, Bytes& out);
Status read_value(MsgpackReader& r, std::vector<std::string>& out);
Status read_value(MsgpackReader& r, std::vector<Bytes>& out);
Status read_value(MsgpackReader& r, std::map<std::string, std::string>& out);
Status read_value(MsgpackReader& r, std::map<std::string, uint64_t>& out);

// A field name made safe to print in an error message (escaped, at most 40 characters).
std::string printable_name(ByteView name);

// Reads one Go struct encoded as a map keyed by field name (nil reads as the zero
// struct). For each entry, calls `field(name)` with the reader on the value; the callback
// must consume exactly that value (read_value for known names, r.skip() for the rest, so
// unknown fields from newer peers are ignored as Go ignores them). Errors are prefixed
// with "<type_name>: field <name>". The last of duplicate keys wins, as in Go.
template <typename FieldFn>
Status read_struct(MsgpackReader& r, std::string_view type_name, FieldFn&& field) {
  if (r.try_read_nil()) return Status();
  auto count = r.read_map_header();
  if (!count.ok()) return count.status().with_context(type_name);
  for (uint32_t i = 0; i < *count; ++i) {
    auto name = r.read_raw();
    if (!name.ok()) {
      return name.status().with_context(std::string(type_name) + ": field name");
    }
    Status s = field(as_string_view(*name));
    if (!s.ok()) {
      return s.with_context(std::string(type_name) + ": field " + printable_name(*name));
    }
  }
  return Status();
}

}  // namespace shoal::gossip
