// gossip/lzw.cc — Go-compatible LZW (LSB, 8-bit literals); see the header.
#include "gossip/lzw.h"

#include <array>
#include <cstdint>
#include <vector>

#include <fmt/format.h>

#include "gossip/messages.h"
#include "gossip/msgpack_reader.h"
#include "gossip/msgpack_writer.h"

namespace shoal::gossip {
namespace {

constexpr uint32_t kClear = 256;
constexpr uint32_t kEof = 257;
constexpr unsigned kMinWidth = 9;
constexpr unsigned kMaxWidth = 12;
constexpr uint32_t kMaxCode = (1u << kMaxWidth) - 1;  // 4095: reaching it resets the writer

// Packs codes LSB-first into bytes.
class BitWriter {
 public:
  explicit BitWriter(Bytes& out) : out_(out) {}
  void put(uint32_t code, unsigned width) {
    bits_ |= code << nbits_;
    nbits_ += width;
    while (nbits_ >= 8) {
      out_.push_back(static_cast<uint8_t>(bits_));
      bits_ >>= 8;
      nbits_ -= 8;
    }
  }
  void flush() {
    if (nbits_ > 0) out_.push_back(static_cast<uint8_t>(bits_));
    bits_ = 0;
    nbits_ = 0;
  }

 private:
  Bytes& out_;
  uint32_t bits_ = 0;
  unsigned nbits_ = 0;
};

// The writer's dictionary: (prefix code, next byte) -> code, open addressing.
// An entry packs key (20 bits) above the code (12 bits); 0 is free, since no real entry
// can be 0 (codes in the table are >= 258).
class Dictionary {
 public:
  Dictionary() : slots_(kSlots, 0) {}
  void clear() { std::fill(slots_.begin(), slots_.end(), 0); }
  // Returns the code for `key`, or 0 when absent.
  uint32_t find(uint32_t key) const {
    for (uint32_t h = hash(key);; h = (h + 1) & (kSlots - 1)) {
      const uint32_t e = slots_[h];
      if (e == 0) return 0;
      if ((e >> 12) == key) return e & kMaxCode;
    }
  }
  void insert(uint32_t key, uint32_t code) {
    uint32_t h = hash(key);
    while (slots_[h] != 0) h = (h + 1) & (kSlots - 1);
    slots_[h] = (key << 12) | code;
  }

 private:
  static constexpr uint32_t kSlots = 1u << 14;  // 4x the codes: short probe runs
  static uint32_t hash(uint32_t key) { return ((key * 2654435761u) >> 18) & (kSlots - 1); }
  std::vector<uint32_t> slots_;
};

}  // namespace

Bytes lzw_compress(ByteView input) {
  Bytes out;
  out.reserve(input.size() / 2 + 8);
  BitWriter bits(out);
  Dictionary dict;
  unsigned width = kMinWidth;
  uint32_t hi = kEof;            // the last code in use; the next entry gets hi + 1
  uint32_t overflow = 1u << kMinWidth;

  // Advances hi; widens codes when hi needs another bit; at 4095 sends a clear code and
  // starts over (returning true) exactly where Go's writer does.
  auto next_code = [&]() {
    ++hi;
    if (hi == overflow) {
      ++width;
      overflow <<= 1;
    }
    if (hi == kMaxCode) {
      bits.put(kClear, width);
      width = kMinWidth;
      hi = kEof;
      overflow = 1u << kMinWidth;
      dict.clear();
      return true;
    }
    return false;
  };

  bits.put(kClear, width);  // Go starts every stream with a clear code
  if (input.empty()) {
    bits.put(kEof, width);
    bits.flush();
    return out;
  }
  uint32_t code = input[0];
  for (size_t i = 1; i < input.size(); ++i) {
    const uint32_t literal = input[i];
    const uint32_t key = (code << 8) | literal;
    if (const uint32_t known = dict.find(key); known != 0) {
      code = known;
      continue;
    }
    bits.put(code, width);
    code = literal;
    if (next_code()) continue;
    dict.insert(key, hi);
  }
  bits.put(code, width);
  (void)next_code();  // may widen, or clear, before the end code, as Go's Close does
  bits.put(kEof, width);
  bits.flush();
  return out;
}

Result<Bytes> lzw_decompress(ByteView input, size_t max_output) {
  constexpr uint32_t kNone = 0xffff;  // no previous code (start, after clear, table full)
  std::array<uint16_t, 1u << kMaxWidth> prefix{};
  std::array<uint8_t, 1u << kMaxWidth> suffix{};
  std::array<uint8_t, (1u << kMaxWidth) + 1> expansion{};  // one code's bytes, built backwards

  Bytes out;
  unsigned width = kMinWidth;
  uint32_t hi = kEof;
  uint32_t overflow = 1u << kMinWidth;
  uint32_t last = kNone;
  uint32_t bits = 0;
  unsigned nbits = 0;
  size_t pos = 0;

  for (;;) {
    while (nbits < width) {
      if (pos == input.size()) {
        return Status::corruption(fmt::format("lzw: stream ends without an end code after {} bytes", pos));
      }
      bits |= static_cast<uint32_t>(input[pos++]) << nbits;
      nbits += 8;
    }
    const uint32_t code = bits & ((1u << width) - 1);
    bits >>= width;
    nbits -= width;

    if (code < kClear) {
      out.push_back(static_cast<uint8_t>(code));
      if (last != kNone) {
        suffix[hi] = static_cast<uint8_t>(code);
        prefix[hi] = static_cast<uint16_t>(last);
      }
    } else if (code == kClear) {
      width = kMinWidth;
      hi = kEof;
      overflow = 1u << kMinWidth;
      last = kNone;
      continue;
    } else if (code == kEof) {
      return out;
    } else if (code <= hi) {
      // Every prefix[] is below its own index, so the walks below end within 4096 steps.
      size_t i = expansion.size();
      uint32_t c = code;
      if (code == hi && last != kNone) {
        // The code being defined right now: last's expansion plus its own first byte.
        c = last;
        while (c >= kClear) c = prefix[c];
        expansion[--i] = static_cast<uint8_t>(c);
        c = last;
      }
      while (c >= kClear) {
        expansion[--i] = suffix[c];
        c = prefix[c];
      }
      expansion[--i] = static_cast<uint8_t>(c);
      out.insert(out.end(), expansion.begin() + static_cast<std::ptrdiff_t>(i), expansion.end());
      if (last != kNone) {
        suffix[hi] = static_cast<uint8_t>(c);
        prefix[hi] = static_cast<uint16_t>(last);
      }
    } else {
      return Status::corruption(fmt::format("lzw: code {} is not defined yet (next is {})", code, hi));
    }
    if (out.size() > max_output) {
      return Status::corruption(fmt::format("lzw: output exceeds the limit of {} bytes", max_output));
    }
    last = code;
    ++hi;
    if (hi >= overflow) {
      if (width == kMaxWidth) {
        last = kNone;  // table full: no new entries until a clear code
        --hi;
      } else {
        ++width;
        overflow <<= 1;
      }
    }
  }
}

Bytes encode_compress(ByteView msg) {
  Bytes out{static_cast<uint8_t>(MessageType::compress)};
  MsgpackWriter w(out);
  w.write_map_header(2);  // compress{Algo, Buf}, fields in Go's sorted order
  w.key("Algo");
  w.write_uint(static_cast<uint8_t>(CompressionType::lzw));
  w.key("Buf");
  w.write_go_bytes(lzw_compress(msg));
  return out;
}

Result<Bytes> decode_compress(ByteView body, size_t max_output) {
  MsgpackReader r(body);
  uint8_t algo = 0;
  ByteView buf;
  Status s = read_struct(r, "compress", [&](std::string_view key) -> Status {
    if (key == "Algo") return read_value(r, algo);
    if (key == "Buf") {
      if (r.try_read_nil()) { buf = {}; return Status(); }
      auto raw = r.read_raw();
      if (!raw.ok()) return raw.status();
      buf = *raw;
      return Status();
    }
    return r.skip();
  });
  if (!s.ok()) return s;
  if (algo != static_cast<uint8_t>(CompressionType::lzw)) {
    return Status::corruption(fmt::format("compress: unknown algorithm {}", algo));
  }
  auto plain = lzw_decompress(buf, max_output);
  if (!plain.ok()) return plain.status().with_context("compress");
  // Go indexes the first byte of the result as the inner type; refuse instead of trusting.
  if (plain->empty()) return Status::corruption("compress: empty message inside");
  return plain;
}

}  // namespace shoal::gossip
