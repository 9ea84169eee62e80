// Tests of the Go-compatible msgpack writer and the bounded reader.
#include <catch2/catch.hpp>

#include <limits>

#include "gossip/msgpack_reader.h"
#include "gossip/msgpack_writer.h"

using namespace shoal;
using namespace shoal::gossip;

namespace {
template <typename F>
Bytes written(F&& f) {
  Bytes out;
  MsgpackWriter w(out);
  f(w);
  return out;
}
}  // namespace

TEST_CASE("unsigned integers use go-msgpack's smallest forms", "[gossip][msgpack]") {
  CHECK(written([](auto& w) { w.write_uint(0); }) == Bytes{0x00});
  CHECK(written([](auto& w) { w.write_uint(127); }) == Bytes{0x7f});
  CHECK(written([](auto& w) { w.write_uint(128); }) == Bytes{0xcc, 0x80});
  CHECK(written([](auto& w) { w.write_uint(255); }) == Bytes{0xcc, 0xff});
  CHECK(written([](auto& w) { w.write_uint(256); }) == Bytes{0xcd, 0x01, 0x00});
  CHECK(written([](auto& w) { w.write_uint(65536); }) == Bytes{0xce, 0x00, 0x01, 0x00, 0x00});
  CHECK(written([](auto& w) { w.write_uint(1ull << 32); }) ==
        Bytes{0xcf, 0, 0, 0, 1, 0, 0, 0, 0});
}

TEST_CASE("signed integers: non-negative as unsigned, then negative forms", "[gossip][msgpack]") {
  CHECK(written([](auto& w) { w.write_int(5); }) == Bytes{0x05});
  CHECK(written([](auto& w) { w.write_int(200); }) == Bytes{0xcc, 0xc8});  // uint8, as Go
  CHECK(written([](auto& w) { w.write_int(-1); }) == Bytes{0xff});
  CHECK(written([](auto& w) { w.write_int(-32); }) == Bytes{0xe0});
  CHECK(written([](auto& w) { w.write_int(-33); }) == Bytes{0xd0, 0xdf});
  CHECK(written([](auto& w) { w.write_int(-129); }) == Bytes{0xd1, 0xff, 0x7f});
  CHECK(written([](auto& w) { w.write_int(-40000); }) == Bytes{0xd2, 0xff, 0xff, 0x63, 0xc0});
  CHECK(written([](auto& w) { w.write_int(std::numeric_limits<int64_t>::min()); }) ==
        Bytes{0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0});
}

TEST_CASE("strings and bytes never use str8 or bin", "[gossip][msgpack]") {
  CHECK(written([](auto& w) { w.write_str(""); }) == Bytes{0xa0});
  CHECK(written([](auto& w) { w.write_str("abc"); }) == Bytes{0xa3, 'a', 'b', 'c'});
  const std::string s31(31, 'x'), s32(32, 'x'), s70k(70000, 'x');
  CHECK(written([&](auto& w) { w.write_str(s31); })[0] == 0xbf);
  const Bytes b32 = written([&](auto& w) { w.write_str(s32); });
  CHECK(Bytes(b32.begin(), b32.begin() + 3) == Bytes{0xda, 0x00, 0x20});
  const Bytes b70k = written([&](auto& w) { w.write_str(s70k); });
  CHECK(Bytes(b70k.begin(), b70k.begin() + 5) == Bytes{0xdb, 0x00, 0x01, 0x11, 0x70});
  CHECK(written([](auto& w) { w.write_go_bytes({}); }) == Bytes{0xc0});
  const Bytes raw{1, 2};
  CHECK(written([&](auto& w) { w.write_go_bytes(raw); }) == Bytes{0xa2, 1, 2});
}

TEST_CASE("containers use fix, 16 and 32 bit headers", "[gossip][msgpack]") {
  CHECK(written([](auto& w) { w.write_array_header(15); }) == Bytes{0x9f});
  CHECK(written([](auto& w) { w.write_array_header(16); }) == Bytes{0xdc, 0x00, 0x10});
  CHECK(written([](auto& w) { w.write_array_header(70000); }) == Bytes{0xdd, 0x00, 0x01, 0x11, 0x70});
  CHECK(written([](auto& w) { w.write_map_header(2); }) == Bytes{0x82});
  CHECK(written([](auto& w) { w.write_map_header(300); }) == Bytes{0xde, 0x01, 0x2c});
  CHECK(written([](auto& w) { w.write_bool(true); w.write_bool(false); w.write_nil(); }) ==
        Bytes{0xc3, 0xc2, 0xc0});
}

TEST_CASE("reader accepts every integer width that fits", "[gossip][msgpack]") {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 255ull, 256ull, 65535ull, 65536ull, 4294967295ull,
                     4294967296ull, 18446744073709551615ull}) {
    const Bytes b = written([&](auto& w) { w.write_uint(v); });
    MsgpackReader r(b);
    auto got = r.read_uint();
    REQUIRE(got.ok());
    CHECK(*got == v);
    CHECK(r.at_end());
  }
  for (int64_t v : {int64_t{-1}, int64_t{-32}, int64_t{-33}, int64_t{-128}, int64_t{-129},
                    int64_t{-32768}, int64_t{-32769}, int64_t{-2147483648LL}, int64_t{-2147483649LL},
                    std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    const Bytes b = written([&](auto& w) { w.write_int(v); });
    MsgpackReader r(b);
    auto got = r.read_int();
    REQUIRE(got.ok());
    CHECK(*got == v);
  }
  // Signed forms holding small positive values, as other encoders send them.
  const Bytes int16_pos{0xd1, 0x00, 0x05};
  MsgpackReader r(int16_pos);
  uint16_t v = 0;
  REQUIRE(read_value(r, v).ok());
  CHECK(v == 5);
}

TEST_CASE("reader rejects overflow, negatives for unsigned, and wrong kinds", "[gossip][msgpack]") {
  const Bytes big{0xcd, 0x01, 0x00};  // 256
  MsgpackReader r1(big);
  uint8_t u8 = 0;
  CHECK(read_value(r1, u8).message() == "integer 256 overflows uint8");
  const Bytes neg{0xff};
  MsgpackReader r2(neg);
  uint32_t u32 = 0;
  CHECK(read_value(r2, u32).is(Status::Code::corruption));
  const Bytes str{0xa1, 'x'};
  MsgpackReader r3(str);
  CHECK(read_value(r3, u32).message() == "expected integer, got str");
  const Bytes c1{0xc1};
  MsgpackReader r4(c1);
  CHECK(read_value(r4, u32).message() == "expected integer, got invalid byte 0xc1");
}

TEST_CASE("reader takes str8, bin and nil where Go may send them", "[gossip][msgpack]") {
  const Bytes forms{0xd9, 0x02, 'h', 'i', 0xc4, 0x01, 'x', 0xc5, 0x00, 0x01, 'y',
                    0xc6, 0x00, 0x00, 0x00, 0x01, 'z', 0xc0, 0x01, 0xc2};
  MsgpackReader r(forms);
  std::string s;
  Bytes b;
  REQUIRE(read_value(r, s).ok());
  CHECK(s == "hi");
  REQUIRE(read_value(r, s).ok());
  CHECK(s == "x");
  REQUIRE(read_value(r, b).ok());
  CHECK(b == Bytes{'y'});
  REQUIRE(read_value(r, s).ok());
  CHECK(s == "z");
  s = "stale";
  REQUIRE(read_value(r, s).ok());  // nil -> ""
  CHECK(s.empty());
  bool flag = false;
  REQUIRE(read_value(r, flag).ok());  // Go reads 1 as true
  CHECK(flag);
  REQUIRE(read_value(r, flag).ok());
  CHECK(!flag);
  CHECK(r.at_end());
}

TEST_CASE("reader checks lengths against the bytes left", "[gossip][msgpack]") {
  const Bytes huge_str{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
  MsgpackReader r1(huge_str);
  CHECK(r1.read_raw().status().is(Status::Code::corruption));
  const Bytes huge_array{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
  MsgpackReader r2(huge_array);
  CHECK(r2.read_array_header().status().message() == "array of 4294967295 elements in 1 bytes");
  const Bytes huge_map{0xdf, 0x10, 0x00, 0x00, 0x00};
  MsgpackReader r3(huge_map);
  CHECK(!r3.read_map_header().ok());
  const Bytes cut_int{0xce, 0x00};
  MsgpackReader r4(cut_int);
  CHECK(!r4.read_uint().ok());
  MsgpackReader r5(ByteView{});
  CHECK(r5.peek().status().message() == "truncated at offset 0: value expected");
}

TEST_CASE("value length walks nesting without recursion", "[gossip][msgpack]") {
  Bytes deep(100000, 0x91);  // 100k nested one-element arrays...
  auto partial = msgpack_value_length(deep);
  REQUIRE(partial.ok());
  CHECK(!partial->has_value());  // ...still incomplete
  deep.push_back(0x01);
  auto full = msgpack_value_length(deep);
  REQUIRE(full.ok());
  CHECK(**full == deep.size());
  const Bytes bad{0x92, 0x01, 0xc1};
  CHECK(!msgpack_value_length(bad).ok());
  const Bytes ext{0xc7, 0x02, 0x05, 'a', 'b', 0xd4, 0x01, 0x00, 0x7f};
  MsgpackReader r(ext);
  REQUIRE(r.skip().ok());
  REQUIRE(r.skip().ok());
  CHECK(r.offset() == 8);
}

TEST_CASE("read_struct names the type and field in errors, skips unknown keys", "[gossip][msgpack]") {
  Bytes b;
  MsgpackWriter w(b);
  w.write_map_header(3);
  w.key("Future");
  w.write_array_header(2);
  w.write_str("ignored");
  w.write_map_header(0);
  w.key("SeqNo");
  w.write_uint(7);
  w.key("Node");
  w.write_uint(1);
  MsgpackReader r(b);
  uint32_t seq = 0;
  std::string node;
  Status s = read_struct(r, "ping", [&](std::string_view k) -> Status {
    if (k == "SeqNo") return read_value(r, seq);
    if (k == "Node") return read_value(r, node);
    return r.skip();
  });
  CHECK(seq == 7);
  CHECK(s.message() == "ping: field Node: expected str or bin, got integer");
  CHECK(printable_name(as_bytes("a\x01")) == "a\\x01");
}
