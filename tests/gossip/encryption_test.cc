// The keyring's rules (memberlist keyring.go), memberlist's AES-GCM framing checked
// against a published AES-256-GCM vector and against packets a real encrypted serf agent
// sent (testdata/encrypted, from capture_encrypted.py), and every way a bad message is
// refused.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "gossip/encryption.h"
#include "gossip/lzw.h"
#include "gossip/wire.h"

namespace shoal::gossip {
namespace {

Bytes key_of(uint8_t fill) { return Bytes(kKeySize, fill); }
Nonce nonce_of(uint8_t fill) {
  Nonce n;
  n.fill(fill);
  return n;
}
Keyring ring_of(std::vector<Bytes> keys) { return Keyring::create(keys).value(); }

Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

Bytes read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

const std::filesystem::path kGolden =
    std::filesystem::path(SHOAL_SOURCE_DIR) / "tests/gossip/testdata/encrypted";

TEST_CASE("keyring: install, use and remove follow memberlist's rules", "[gossip][keyring]") {
  REQUIRE(encryption_available().ok());
  Keyring ring;
  CHECK_FALSE(ring.enabled());
  REQUIRE(ring.install(key_of(1)).ok());
  CHECK(ring.enabled());
  CHECK(ring.primary()[0] == 1);

  SECTION("installing a second key keeps the primary; installing it again is a no-op") {
    REQUIRE(ring.install(key_of(2)).ok());
    REQUIRE(ring.install(key_of(2)).ok());
    CHECK(ring.keys().size() == 2);
    CHECK(ring.primary()[0] == 1);
  }
  SECTION("use() makes an installed key primary, others keep their order") {
    REQUIRE(ring.install(key_of(2)).ok());
    REQUIRE(ring.install(key_of(3)).ok());
    REQUIRE(ring.use(key_of(3)).ok());
    REQUIRE(ring.keys().size() == 3);
    CHECK(ring.keys()[0][0] == 3);
    CHECK(ring.keys()[1][0] == 1);
    CHECK(ring.keys()[2][0] == 2);
  }
  SECTION("use() of a key not installed is refused and changes nothing") {
    const Status s = ring.use(key_of(9));
    CHECK(s.code() == Status::Code::not_found);
    CHECK(ring.primary()[0] == 1);
  }
  SECTION("the primary cannot be removed; another key can; an absent one is a no-op") {
    REQUIRE(ring.install(key_of(2)).ok());
    const Status s = ring.remove(key_of(1));
    CHECK(s.code() == Status::Code::failed_precondition);
    CHECK_THAT(s.message(), Catch::Contains("primary"));
    CHECK(ring.keys().size() == 2);
    REQUIRE(ring.remove(key_of(2)).ok());
    CHECK(ring.keys().size() == 1);
    REQUIRE(ring.remove(key_of(7)).ok());
    CHECK(ring.keys().size() == 1);
  }
  SECTION("keys of the wrong length are refused, naming the length") {
    for (size_t len : {0, 1, 16, 24, 31, 33, 64}) {
      INFO(len);
      const Status s = ring.install(Bytes(len, 5));
      CHECK(s.code() == Status::Code::invalid_argument);
      CHECK_THAT(s.message(), Catch::Contains(std::to_string(len) + " bytes"));
    }
    CHECK(ring.keys().size() == 1);
  }
}

TEST_CASE("keyring: keys travel as standard base64", "[gossip][keyring]") {
  const std::string text = "T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s=";
  auto key = key_from_base64(text);
  REQUIRE(key.ok());
  CHECK(key->size() == 32);
  CHECK(key_to_base64(*key) == text);
  CHECK_THAT(key_from_base64("not base64!").status().message(), Catch::Contains("base64"));
  CHECK_THAT(key_from_base64("AAAAAAAAAAAAAAAAAAAAAA==").status().message(),
             Catch::Contains("16 bytes"));
  CHECK_FALSE(key_from_base64(text + "\n").ok());
}

TEST_CASE("encryption: the published AES-256-GCM vector, in memberlist's framing",
          "[gossip][encryption]") {
  REQUIRE(encryption_available().ok());
  // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 14: zero key, zero
  // IV, one zero block.
  const Bytes sealed = encrypt_payload(1, key_of(0), Bytes(16, 0), {}, nonce_of(0));
  Bytes expected{1};
  expected.insert(expected.end(), 12, 0);
  const Bytes ct = from_hex("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
  expected.insert(expected.end(), ct.begin(), ct.end());
  CHECK(sealed == expected);

  // Version 0 pads to the block first: an empty message becomes one block of 16s.
  const Bytes v0 = encrypt_payload(0, key_of(0), {}, {}, nonce_of(0));
  CHECK(v0.size() == 1 + 12 + 16 + 16);
  auto plain = decrypt_payload(ring_of({key_of(0)}), v0, {});
  REQUIRE(plain.ok());
  CHECK(plain->plain.empty());
}

TEST_CASE("encryption: packets and streams round-trip with any installed key",
          "[gossip][encryption]") {
  REQUIRE(encryption_available().ok());
  const Bytes msg = encode(Ping{7, "n", {127, 0, 0, 1}, 7946, "a"});
  const Keyring ring = ring_of({key_of(1), key_of(2)});
  for (uint8_t version : {0, 1}) {
    INFO("version " << int(version));
    for (const Bytes& key : {key_of(1), key_of(2)}) {
      const Bytes packet = encrypt_payload(version, key, msg, {}, random_nonce());
      CHECK(packet.size() <= msg.size() + encrypt_overhead(version));
      auto p = decrypt_payload(ring, packet, {});
      REQUIRE(p.ok());
      CHECK(p->plain == msg);

      const Bytes stream = encrypt_stream(version, key, msg, random_nonce());
      CHECK(stream[0] == static_cast<uint8_t>(MessageType::encrypt));
      auto len = stream_message_length(stream);
      REQUIRE(len.ok());
      CHECK(len->value() == stream.size());
      auto s = decrypt_stream(ring, stream);
      REQUIRE(s.ok());
      CHECK(s->plain == msg);
    }
  }
}

TEST_CASE("encryption: what cannot be trusted is refused with a reason",
          "[gossip][encryption]") {
  REQUIRE(encryption_available().ok());
  const Keyring ring = ring_of({key_of(1)});
  const Bytes msg = encode(Alive{1, "n", {127, 0, 0, 1}, 7946, {}, {1, 5, 2, 2, 5, 4}});
  const Bytes packet = encrypt_payload(1, key_of(1), msg, {}, nonce_of(3));
  auto why_of = [&](ByteView b) {
    DecryptFailure why = DecryptFailure::none;
    CHECK_FALSE(decrypt_payload(ring, b, {}, &why).ok());
    return why;
  };
  CHECK(why_of({}) == DecryptFailure::empty);
  CHECK(why_of(msg) == DecryptFailure::unknown_version);  // plaintext: type byte 4
  CHECK(why_of(ByteView(packet).first(1 + 12 + 15)) == DecryptFailure::truncated);
  CHECK(why_of(ByteView(packet).first(packet.size() - 1)) == DecryptFailure::no_key);
  CHECK(why_of(encrypt_payload(1, key_of(2), msg, {}, nonce_of(3))) == DecryptFailure::no_key);
  for (size_t i = 1; i < packet.size(); ++i) {  // any flipped bit after the version byte
    Bytes bad = packet;
    bad[i] ^= 0x10;
    INFO("byte " << i);
    CHECK(why_of(bad) == DecryptFailure::no_key);
  }
  // The version byte is not authenticated (memberlist passes no associated data): a
  // version-1 packet relabelled 0 opens, and its "padding" must then be checked.
  Bytes relabelled = encrypt_payload(1, key_of(1), Bytes(20, 0), {}, nonce_of(4));
  relabelled[0] = 0;
  CHECK(why_of(relabelled) == DecryptFailure::bad_padding);

  const Bytes stream = encrypt_stream(1, key_of(1), msg, nonce_of(5));
  auto stream_why = [&](ByteView b) {
    DecryptFailure why = DecryptFailure::none;
    CHECK_FALSE(decrypt_stream(ring, b, &why).ok());
    return why;
  };
  CHECK(stream_why(ByteView(stream).first(4)) == DecryptFailure::truncated);
  CHECK(stream_why(ByteView(stream).first(stream.size() - 1)) == DecryptFailure::truncated);
  Bytes header_changed = stream;  // the header is associated data
  header_changed[4] -= 1;
  CHECK(stream_why(header_changed) == DecryptFailure::no_key);
}

TEST_CASE("golden: a real encrypted serf agent's packets and push-pull decrypt",
          "[gossip][encryption][golden]") {
  REQUIRE(encryption_available().ok());
  std::ifstream key_file(kGolden / "key.txt");
  std::string key_text;
  REQUIRE(std::getline(key_file, key_text));
  auto key = key_from_base64(key_text);
  REQUIRE(key.ok());
  const Keyring ring = ring_of({key_of(9), *key});  // found even when not the primary
  const Keyring wrong = ring_of({key_of(9)});

  int packets = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kGolden)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("udp_")) continue;
    INFO(name);
    const Bytes packet = read_file(entry.path());
    CHECK(packet[0] == 1);  // serf 0.9 runs protocol 2+: version 1, no padding
    DecryptFailure why = DecryptFailure::none;
    CHECK(decrypt_payload(wrong, packet, {}, &why).status().code() == Status::Code::corruption);
    CHECK(why == DecryptFailure::no_key);
    auto plain = decrypt_payload(ring, packet, {});
    REQUIRE(plain.ok());
    auto inner = check_crc(plain->plain);
    REQUIRE(inner.ok());
    REQUIRE_FALSE(inner->empty());
    ++packets;
  }
  CHECK(packets >= 4);

  const Bytes stream = read_file(kGolden / "tcp_00.bin");
  auto len = stream_message_length(stream);
  REQUIRE(len.ok());
  REQUIRE(len->has_value());
  auto plain = decrypt_stream(ring, ByteView(stream).first(**len));
  REQUIRE(plain.ok());
  REQUIRE(plain->plain[0] == static_cast<uint8_t>(MessageType::compress));
  auto pp_bytes = decode_compress(ByteView(plain->plain).subspan(1), kMaxPushStateBytes);
  REQUIRE(pp_bytes.ok());
  REQUIRE((*pp_bytes)[0] == static_cast<uint8_t>(MessageType::push_pull));
  auto pp = decode_push_pull(ByteView(*pp_bytes).subspan(1));
  REQUIRE(pp.ok());
  CHECK(pp->join);
  bool found = false;
  for (const auto& n : pp->nodes) found = found || n.name == "golden-a";
  CHECK(found);

  // Re-framed by Shoal with the nonce serf chose, the bytes are serf's exactly.
  Nonce nonce;
  std::copy_n(stream.begin() + 6, kNonceSize, nonce.begin());
  CHECK(encrypt_stream(1, *key, plain->plain, nonce) == Bytes(stream.begin(), stream.begin() + **len));
}

}  // namespace
}  // namespace shoal::gossip
