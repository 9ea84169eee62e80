// A bounded, seeded fuzz run of the encrypted framing inside ctest: real encrypted
// messages (and their plaintexts) are mutated and fed through feed_encrypted_framing().
// The same inputs, and plain random bytes, also go into a running core holding a keyring
// (encrypted_node_fuzz_target.h): raw, truncated, under a wrong key, sealed and replayed.
// Deterministic: a failure names its iteration. tests/fuzz/wire_fuzz explores further.
#include <catch2/catch.hpp>

#include "base/rng.h"
#include "tests/gossip/crypto_fuzz_target.h"
#include "tests/gossip/encrypted_node_fuzz_target.h"

using namespace shoal;
using namespace shoal::gossip;

TEST_CASE("fuzz: mutated encrypted packets and streams never crash or slip through",
          "[gossip][encryption][fuzz]") {
  const Keyring& ring = fuzz::fuzz_keyring();
  const std::vector<Bytes> plain{
      encode(Ping{1, "n", {127, 0, 0, 1}, 7946, "a"}),
      encode(Alive{6, "n", {127, 0, 0, 1}, 7946, {0xff, 0x80}, {1, 5, 2, 2, 5, 4}}),
      make_compound({encode(Nack{4}), encode(Dead{7, "n", "n"})}),
      add_crc(encode(Suspect{5, "n", "a"})),
  };
  std::vector<Bytes> corpus = plain;
  for (const Bytes& m : plain) {
    for (uint8_t v : {0, 1}) {
      corpus.push_back(encrypt_payload(v, ring.keys()[v], m, {}, random_nonce()));
      corpus.push_back(encrypt_stream(v, ring.keys()[1 - v], m, random_nonce()));
    }
  }
  for (const Bytes& valid : corpus) REQUIRE(fuzz::feed_encrypted_framing(valid).empty());
  Rng rng(314159);
  for (int i = 0; i < 20000; ++i) {
    Bytes input = corpus[rng.uniform(corpus.size())];
    switch (rng.uniform(4)) {
      case 0: input.resize(rng.uniform(input.size() + 1)); break;
      case 1: if (!input.empty()) input[rng.uniform(input.size())] ^= 1u << rng.uniform(8); break;
      case 2: if (input.size() > 4) input[1 + rng.uniform(4)] = static_cast<uint8_t>(rng.next()); break;
      default: input.push_back(static_cast<uint8_t>(rng.next())); break;
    }
    const std::string problem = fuzz::feed_encrypted_framing(input);
    if (!problem.empty()) FAIL("iteration " << i << ": " << problem);
  }
}

TEST_CASE("fuzz: a core with a keyring drops what does not authenticate, counted",
          "[gossip][encryption][fuzz]") {
  const Keyring& ring = fuzz::fuzz_keyring();
  std::vector<Bytes> corpus{
      encode(Ping{1, "n", {127, 0, 0, 1}, 7946, "fuzz"}),
      encode(Alive{6, "m", {127, 0, 0, 2}, 7946, {0xff, 0x80}, {1, 5, 2, 2, 5, 4}}),
      encode(Suspect{5, "fuzz", "m"}),
      make_compound({encode(Nack{4}), encode(Dead{7, "m", "m"})}),
  };
  corpus.push_back(encrypt_payload(1, ring.keys()[0], corpus[1], {}, random_nonce()));
  Rng rng(271828);
  const uint64_t failures_before = fuzz::fuzz_encrypted_node().stats().memberlist.decrypt_failures;
  for (int i = 0; i < 3000; ++i) {
    Bytes input;
    if (rng.uniform(3) == 0) {
      input.resize(rng.uniform(120));
      for (auto& b : input) b = static_cast<uint8_t>(rng.next());
    } else {
      input = corpus[rng.uniform(corpus.size())];
      switch (rng.uniform(3)) {
        case 0: input.resize(rng.uniform(input.size() + 1)); break;
        case 1: if (!input.empty()) input[rng.uniform(input.size())] ^= 1u << rng.uniform(8); break;
        default: break;
      }
    }
    const std::string problem = fuzz::feed_encrypted_node(input);
    if (!problem.empty()) FAIL("iteration " << i << ": " << problem);
  }
  const MemberlistCounters m = fuzz::fuzz_encrypted_node().stats().memberlist;
  CHECK(m.decrypt_failures > failures_before + 3000 * 4);  // wrong key and truncated, twice each
  CHECK(m.drop_reasons.at("decrypt: no key") >= 3000 * 2);
  CHECK(m.replays >= 3000 * 2);
}
