// Tests of Serf tag encoding in node meta.
#include <catch2/catch.hpp>

#include "gossip/messages.h"
#include "gossip/tags.h"

using namespace shoal;
using namespace shoal::gossip;

TEST_CASE("tags: magic byte, then a sorted msgpack map", "[gossip][tags]") {
  auto meta = encode_tags({{"role", "web"}, {"dc", "x"}});
  REQUIRE(meta.ok());
  const Bytes expected{0xff, 0x82, 0xa2, 'd', 'c', 0xa1, 'x', 0xa4, 'r', 'o', 'l', 'e', 0xa3, 'w', 'e', 'b'};
  CHECK(*meta == expected);
  auto back = decode_tags(*meta);
  REQUIRE(back.ok());
  CHECK(*back == Tags{{"role", "web"}, {"dc", "x"}});
}

TEST_CASE("tags: legacy meta is the role, empty meta is an empty role", "[gossip][tags]") {
  auto legacy = decode_tags(as_bytes("db"));
  REQUIRE(legacy.ok());
  CHECK(*legacy == Tags{{"role", "db"}});
  auto empty = decode_tags({});
  REQUIRE(empty.ok());
  CHECK(*empty == Tags{{"role", ""}});  // exactly what Serf's decodeTags returns
  auto none = encode_tags({});
  REQUIRE(none.ok());
  CHECK(*none == Bytes{0xff, 0x80});
}

TEST_CASE("tags: over 512 encoded bytes is refused", "[gossip][tags]") {
  CHECK(encode_tags({{"k", std::string(505, 'v')}}).ok());  // 1+1+2+3+505 = 512
  auto big = encode_tags({{"k", std::string(506, 'v')}});
  REQUIRE(!big.ok());
  CHECK(big.status().is(Status::Code::invalid_argument));
}

TEST_CASE("tags: malformed maps are corruption", "[gossip][tags]") {
  const Bytes bad{0xff, 0x81, 0xa1, 'k', 0x05};
  CHECK(decode_tags(bad).status().message() == "tags: map value of k: expected str or bin, got integer");
  const Bytes cut{0xff, 0x82, 0xa1, 'k'};
  CHECK(!decode_tags(cut).ok());
}
