// Tests of the Go-compatible LZW codec (compress/lzw, LSB, 8-bit literals).
#include <catch2/catch.hpp>

#include "base/rng.h"
#include "gossip/lzw.h"
#include "gossip/messages.h"

using namespace shoal;
using namespace shoal::gossip;

TEST_CASE("lzw: exact bits for a tiny input, derived from Go's writer", "[gossip][lzw]") {
  // Codes, 9 bits each, LSB first: clear(256) 'a'(97) 'b'(98) eof(257) -> 36 bits.
  CHECK(lzw_compress(as_bytes("ab")) == Bytes{0x00, 0xc3, 0x88, 0x09, 0x08});
  // Empty input: clear then eof.
  CHECK(lzw_compress({}) == Bytes{0x00, 0x03, 0x02});
  auto empty = lzw_decompress(Bytes{0x00, 0x03, 0x02}, 10);
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("lzw: round trips across width changes and table resets", "[gossip][lzw]") {
  Rng rng(42);
  for (size_t size : {size_t{1}, size_t{2}, size_t{300}, size_t{5000}, size_t{70000}, size_t{300000}}) {
    for (int alphabet : {2, 16, 256}) {
      Bytes input(size);
      for (auto& b : input) b = static_cast<uint8_t>(rng.uniform(static_cast<uint64_t>(alphabet)));
      const Bytes packed = lzw_compress(input);
      auto back = lzw_decompress(packed, input.size());
      REQUIRE(back.ok());
      CHECK(*back == input);
    }
  }
  Bytes runs(200000, 'z');  // long runs exercise the code == next-code (KwKwK) case
  auto back = lzw_decompress(lzw_compress(runs), runs.size());
  REQUIRE(back.ok());
  CHECK(*back == runs);
}

TEST_CASE("lzw: a bomb is stopped at max_output", "[gossip][lzw]") {
  const Bytes zeros(1 << 20, 0);
  const Bytes packed = lzw_compress(zeros);
  CHECK(packed.size() < zeros.size() / 50);
  auto limited = lzw_decompress(packed, 1000);
  REQUIRE(!limited.ok());
  CHECK(limited.status().message() == "lzw: output exceeds the limit of 1000 bytes");
}

TEST_CASE("lzw: truncation and undefined codes are corruption", "[gossip][lzw]") {
  Bytes packed = lzw_compress(as_bytes("hello hello hello"));
  packed.pop_back();
  packed.pop_back();
  CHECK(lzw_decompress(packed, 100).status().is(Status::Code::corruption));
  // clear, then code 300 which is not defined.
  const Bytes bad{0x00, 0x59, 0x02};
  CHECK(lzw_decompress(bad, 100).status().message().find("not defined") != std::string::npos);
}

TEST_CASE("compress message wraps lzw in {Algo, Buf}", "[gossip][lzw]") {
  const Bytes msg = to_bytes("\x04payload-that-is-a-message");
  const Bytes wrapped = encode_compress(msg);
  REQUIRE(wrapped[0] == static_cast<uint8_t>(MessageType::compress));
  // 0x82 map, "Algo" 0, "Buf" ...
  CHECK(Bytes(wrapped.begin() + 1, wrapped.begin() + 8) == Bytes{0x82, 0xa4, 'A', 'l', 'g', 'o', 0x00});
  auto back = decode_compress(ByteView(wrapped).subspan(1), 1 << 20);
  REQUIRE(back.ok());
  CHECK(*back == msg);
  Bytes wrong_algo = wrapped;
  wrong_algo[7] = 0x01;
  CHECK(decode_compress(ByteView(wrong_algo).subspan(1), 1 << 20).status().message() ==
        "compress: unknown algorithm 1");
}
