// Serf's key-management queries: the request/response bytes as serf writes them, what a
// member does with each op, and the asker's per-node tally.
#include <catch2/catch.hpp>

#include "gossip/key_query.h"

namespace shoal::gossip {
namespace {

Bytes key_of(uint8_t fill) { return Bytes(kKeySize, fill); }

TEST_CASE("key queries: names and request bytes are serf's", "[gossip][keyring]") {
  CHECK(key_query_name(KeyOp::install) == "_serf_install-key");
  CHECK(key_op_of_query("_serf_list-keys") == KeyOp::list);
  CHECK_FALSE(key_op_of_query("_serf_ping").has_value());
  CHECK_FALSE(key_op_of_query("install-key").has_value());

  // [7] {"Key": the key as a str}: go-msgpack writes a []byte in the str family.
  const Bytes req = encode_key_request(Bytes{1, 2, 3});
  CHECK(req == Bytes{7, 0x81, 0xa3, 'K', 'e', 'y', 0xa3, 1, 2, 3});
  CHECK(decode_key_request(req).value() == Bytes{1, 2, 3});
  CHECK(encode_key_request({}) == Bytes{7, 0x81, 0xa3, 'K', 'e', 'y', 0xc0});
  CHECK_FALSE(decode_key_request(Bytes{8, 0x80}).ok());
  CHECK_FALSE(decode_key_request(Bytes{7, 0x81, 0xa3, 'K', 'e', 'y'}).ok());
}

TEST_CASE("key queries: responses round-trip, fields in Go's sorted order", "[gossip][keyring]") {
  NodeKeyResponse r{true, "", {"a", "b"}, "a"};
  const Bytes bytes = encode_key_response(r);
  CHECK(bytes[0] == 8);
  CHECK(bytes[1] == 0x84);
  CHECK(bytes[2] == 0xa4);  // "Keys" first
  auto back = decode_key_response(bytes);
  REQUIRE(back.ok());
  CHECK(back->result);
  CHECK(back->keys == std::vector<std::string>{"a", "b"});
  CHECK(back->primary_key == "a");
  // As serf sends a failure: Keys nil.
  auto fail = decode_key_response(encode_key_response({false, "boom", {}, ""}));
  REQUIRE(fail.ok());
  CHECK_FALSE(fail->result);
  CHECK(fail->message == "boom");
}

TEST_CASE("key queries: each op applied to a member's keyring", "[gossip][keyring]") {
  Keyring ring = Keyring::create({key_of(1)}).value();
  bool changed = false;
  auto run = [&](KeyOp op, const Bytes& key) {
    return handle_key_query(op, encode_key_request(key), ring, &changed);
  };
  auto r = run(KeyOp::install, key_of(2));
  CHECK(r.result);
  CHECK(changed);
  r = run(KeyOp::install, key_of(2));
  CHECK(r.result);
  CHECK_FALSE(changed);
  r = run(KeyOp::remove, key_of(1));
  CHECK_FALSE(r.result);
  CHECK_THAT(r.message, Catch::Contains("primary"));
  r = run(KeyOp::use, key_of(3));
  CHECK_FALSE(r.result);
  CHECK_FALSE(changed);
  r = run(KeyOp::use, key_of(2));
  CHECK(r.result);
  CHECK(changed);
  r = run(KeyOp::install, Bytes(16, 1));
  CHECK_FALSE(r.result);
  CHECK_THAT(r.message, Catch::Contains("16 bytes"));
  r = handle_key_query(KeyOp::list, encode_key_request({}), ring, &changed);
  CHECK(r.result);
  CHECK(r.keys == std::vector<std::string>{key_to_base64(key_of(2)), key_to_base64(key_of(1))});
  CHECK(r.primary_key == key_to_base64(key_of(2)));
  r = handle_key_query(KeyOp::install, Bytes{7, 0x93}, ring, &changed);
  CHECK_FALSE(r.result);
  CHECK_THAT(r.message, Catch::Contains("decode"));

  Keyring none;
  r = handle_key_query(KeyOp::install, encode_key_request(key_of(1)), none, &changed);
  CHECK_FALSE(r.result);
  CHECK(r.message == "No keyring to modify (encryption not enabled)");
  CHECK_FALSE(none.enabled());
}

TEST_CASE("key queries: the asker's tally names who failed", "[gossip][keyring]") {
  KeyReport report;
  report.num_nodes = 3;
  report.add("a", encode_key_response({true, "", {"k1", "k2"}, "k1"}));
  report.add("b", encode_key_response({false, "Removing the primary key is not allowed", {}, ""}));
  CHECK(report.status().message() == "1/3 nodes reported failure");
  CHECK(report.messages.at("b") == "Removing the primary key is not allowed");
  report.add("c", Bytes{5, 1, 2});
  CHECK(report.num_err == 2);
  CHECK(report.messages.count("c") == 1);
  CHECK(report.keys.at("k1") == 1);
  CHECK(report.primary_keys.at("k1") == 1);

  KeyReport quiet;
  quiet.num_nodes = 2;
  quiet.add("a", encode_key_response({true, "", {}, ""}));
  CHECK(quiet.status().message() == "1/2 nodes reported success");
  quiet.add("b", encode_key_response({true, "", {}, ""}));
  CHECK(quiet.status().ok());
}

}  // namespace
}  // namespace shoal::gossip
