// tests/gossip/encrypted_node_fuzz_target.h
//
// Feeds one arbitrary byte string into a running Serf core that holds a keyring, the way
// the network would: raw, truncated after encryption, encrypted with a key it does not
// hold, encrypted with its secondary key (and replayed), as packets and as stream
// messages. Shared by the libFuzzer target (tests/fuzz/wire_fuzz.cc) and the bounded run
// in ctest (crypto_fuzz_test.cc). Properties, for any input:
//  - nothing crashes, and the core's invariants hold after every message;
//  - what does not authenticate is dropped and counted as a decrypt failure (wrong key:
//    "decrypt: no key"); nothing that failed to decrypt is acted on;
//  - what authenticates with an installed key is handled, and the same packet again is
//    counted as a replay.
// Returns "" when all is well, else the broken property.
//
// One core per process (a fresh one per input would dominate the fuzzer's time); it
// accumulates whatever state authenticated input gives it, as a real member would.
#pragma once

#include <fmt/format.h>

#include <memory>
#include <string>

#include "gossip/encryption.h"
#include "gossip/serf.h"
#include "tests/gossip/crypto_fuzz_target.h"

namespace shoal::gossip::fuzz {

inline Serf& fuzz_encrypted_node() {
  static const std::unique_ptr<Serf> serf = [] {
    SerfConfig c;
    c.node_name = "fuzz";
    c.advertise = *Address::parse("127.0.0.1", 7946);
    c.memberlist.keyring = fuzz_keyring();
    return std::move(Serf::create(c, Rng(7), TimePoint{}).value());
  }();
  return *serf;
}

inline std::string feed_encrypted_node(ByteView data) {
  Serf& serf = fuzz_encrypted_node();
  const Keyring& ring = fuzz_keyring();
  const Address from = *Address::parse("127.0.0.1", 9);
  const TimePoint now{};
  const Bytes wrong_key(kKeySize, 0x33);
  // Every sealed message gets a nonce never used before in this process (a reused one
  // would rightly be refused as a replay): a counter, mixed with the input.
  static uint64_t sealed_count = 0;
  auto fresh_nonce = [&] {
    Nonce n{};
    for (size_t i = 0; i < data.size(); ++i) n[8 + i % (kNonceSize - 8)] ^= data[i];
    const uint64_t c = ++sealed_count;
    for (size_t i = 0; i < 8; ++i) n[i] = static_cast<uint8_t>(c >> (8 * i));
    return n;
  };

  std::string bad;
  auto counters = [&] { return serf.stats().memberlist; };
  // `packet` must be dropped as a decrypt failure with `reason` ("" = any reason).
  auto must_refuse = [&](const char* what, ByteView packet, const std::string& reason) {
    const MemberlistCounters before = counters();
    serf.handle_packet(from, packet, now);
    (void)serf.take_actions();
    serf.check_invariants();
    const MemberlistCounters after = counters();
    auto dropped_as = [&](const MemberlistCounters& m) {
      auto it = m.drop_reasons.find(reason);
      return it == m.drop_reasons.end() ? uint64_t{0} : it->second;
    };
    if (!bad.empty()) return;
    if (after.decrypt_failures != before.decrypt_failures + 1) {
      bad = fmt::format("{}: not counted as a decrypt failure", what);
    } else if (!reason.empty() && dropped_as(after) != dropped_as(before) + 1) {
      bad = fmt::format("{}: not dropped as '{}'", what, reason);
    }
  };

  // Raw: only a forgery that authenticates with one of our keys could get through.
  if (!data.empty() && !decrypt_payload(ring, data, {}).ok()) must_refuse("raw packet", data, "");
  (void)serf.handle_stream(from, data, now);
  (void)serf.take_actions();
  serf.check_invariants();

  const ByteView secondary = ring.keys()[1];
  for (uint8_t version : {0, 1}) {
    must_refuse("wrong key", encrypt_payload(version, wrong_key, data, {}, fresh_nonce()),
                "decrypt: no key");
    const Bytes sealed = encrypt_payload(version, secondary, data, {}, fresh_nonce());
    // Cut somewhere in [1, size): zero bytes would be an empty packet, not a decrypt.
    const size_t cut = 1 + (data.empty() ? 0 : data[0]) % (sealed.size() - 1);
    must_refuse("truncated", ByteView(sealed).first(cut), "");

    const MemberlistCounters before = counters();
    serf.handle_packet(from, sealed, now);
    (void)serf.take_actions();
    serf.check_invariants();
    serf.handle_packet(from, sealed, now);  // the very same packet again
    (void)serf.take_actions();
    serf.check_invariants();
    const MemberlistCounters after = counters();
    if (after.decrypt_failures != before.decrypt_failures && bad.empty()) {
      bad = "a packet sealed with the secondary key failed to decrypt";
    }
    if (after.replays != before.replays + 1 && bad.empty()) {
      bad = "a replayed packet was not counted as a replay";
    }

    (void)serf.handle_stream(from, encrypt_stream(version, secondary, data, fresh_nonce()), now);
    (void)serf.handle_stream(from, encrypt_stream(version, wrong_key, data, fresh_nonce()), now);
    (void)serf.take_actions();
    serf.check_invariants();
  }
  return bad;
}

}  // namespace shoal::gossip::fuzz
