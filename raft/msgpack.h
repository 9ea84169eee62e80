// raft/msgpack.h
//
// The small subset of MessagePack the Raft wire format uses: unsigned integers, booleans,
// nil, str, bin and arrays. MsgWriter always picks the shortest encoding; MsgReader accepts
// any valid width for each type (so other encoders interoperate) and nothing else.
//
// Contract:
//  - MsgReader never reads outside its input and never throws. The first problem sticks
//    (error()); later reads return zero values, so a decoder checks once at the end.
//  - Array and string lengths are checked against the bytes left before anything is
//    allocated: a hostile length cannot make the reader reserve memory it was not sent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"

namespace shoal::raft::msgpack {

class MsgWriter {
 public:
  void uint(uint64_t v);
  void boolean(bool v) { out_.push_back(v ? 0xc3 : 0xc2); }
  void nil() { out_.push_back(0xc0); }
  void str(std::string_view s);
  void bin(ByteView b);
  void array(uint32_t n);

  Bytes& bytes() { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  void be(uint64_t v, int width);
  Bytes out_;
};

class MsgReader {
 public:
  explicit MsgReader(ByteView in) : in_(in) {}

  uint64_t uint();
  bool boolean();
  std::string str(size_t max_bytes);
  Bytes bin(size_t max_bytes);
  // Returns the element count; each element needs at least one byte, which bounds it.
  uint32_t array();
  // Like array(), but the count must lie in [min, max].
  uint32_t array(uint32_t min, uint32_t max);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t remaining() const { return in_.size() - pos_; }
  bool at_end() const { return pos_ == in_.size(); }
  void fail(std::string why);

 private:
  bool take(size_t n, ByteView* out);
  uint64_t be(int width);
  ByteView in_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace shoal::raft::msgpack
