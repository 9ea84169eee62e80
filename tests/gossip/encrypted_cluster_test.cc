// Serf cores with a keyring, under virtual time: an encrypted cluster forms, a member with
// another key cannot join and is told why, keys rotate with no member lost, and hostile
// input (garbage, plaintext lies, other keys, truncations, replays) changes nothing.
#include <catch2/catch.hpp>

#include "gossip/encryption.h"
#include "gossip/wire.h"
#include "tests/gossip/local_cluster.h"

namespace shoal::gossip {
namespace {

using namespace std::chrono_literals;

Bytes key_of(uint8_t fill) { return Bytes(kKeySize, fill); }

std::function<void(SerfConfig&)> with_keys(std::vector<Bytes> keys) {
  return [keys](SerfConfig& c) { c.memberlist.keyring = Keyring::create(keys).value(); };
}

bool all_alive(test::LocalCluster& c, const std::vector<std::string>& names) {
  for (const auto& o : names) {
    for (const auto& m : names) {
      if (c.status(o, m) != MemberStatus::alive) return false;
    }
  }
  return true;
}

TEST_CASE("encrypted cluster: forms, and every packet on the wire is ciphertext",
          "[gossip][encryption]") {
  test::LocalCluster c(7);
  const std::vector<std::string> names{"a", "b", "c", "d"};
  size_t sent = 0, plaintext = 0;
  const Keyring ring = Keyring::create({key_of(1)}).value();
  c.tap = [&](const std::string&, const Bytes& data) {
    ++sent;
    plaintext += !decrypt_payload(ring, data, {}).ok();
  };
  for (const auto& n : names) c.add(n, {}, with_keys({key_of(1)}));
  for (size_t i = 1; i < names.size(); ++i) c.join(names[i], "a");
  c.run_for(5s);
  CHECK(all_alive(c, names));
  CHECK(sent > 50);
  CHECK(plaintext == 0);
  for (const auto& n : names) CHECK(c.serf(n).stats().memberlist.decrypt_failures == 0);
}

TEST_CASE("encrypted cluster: a member with another key cannot join and is told why",
          "[gossip][encryption]") {
  test::LocalCluster c(8);
  c.add("a", {}, with_keys({key_of(1)}));
  c.add("b", {}, with_keys({key_of(1)}));
  c.join("b", "a");

  std::string why;
  SECTION("wrong key") {
    c.add("x", {}, with_keys({key_of(2)}));
    why = "the peer uses a different encryption key";
  }
  SECTION("no key") {
    c.add("x");
    why = "remote state is encrypted and encryption is not configured";
  }
  c.join("x", "a");
  c.run_for(3s);
  REQUIRE(c.joins("x").size() == 1);
  const JoinDone& done = c.joins("x").front();
  CHECK(done.joined == 0);
  REQUIRE(done.errors.size() == 1);
  CHECK_THAT(done.errors[0], Catch::Contains(why));
  CHECK(c.status("a", "x") == MemberStatus::none);
  CHECK(c.status("x", "a") == MemberStatus::none);
  CHECK(c.serf("a").stats().memberlist.decrypt_failures > 0);
}

TEST_CASE("encrypted cluster: install, use, remove rotates the key with no member lost",
          "[gossip][encryption]") {
  test::LocalCluster c(9);
  const std::vector<std::string> names{"a", "b", "c", "d", "e"};
  for (const auto& n : names) c.add(n, {}, with_keys({key_of(1)}));
  for (size_t i = 1; i < names.size(); ++i) c.join(names[i], "a");
  c.run_for(5s);
  REQUIRE(all_alive(c, names));

  // Each step reaches the nodes one at a time, some seconds apart, as a query would.
  auto step = [&](const std::function<Status(Keyring&)>& change) {
    for (const auto& n : names) {
      REQUIRE(change(c.serf(n).keyring()).ok());
      c.run_for(700ms);
      REQUIRE(all_alive(c, names));
    }
  };
  step([](Keyring& k) { return k.install(key_of(2)); });
  step([](Keyring& k) { return k.use(key_of(2)); });
  step([](Keyring& k) { return k.remove(key_of(1)); });
  c.run_for(20s);
  CHECK(all_alive(c, names));
  for (const auto& n : names) {
    REQUIRE(c.serf(n).keyring().keys().size() == 1);
    CHECK(c.serf(n).keyring().primary()[0] == 2);
    CHECK(c.serf(n).stats().memberlist.decrypt_failures == 0);
  }
  // A node still on the old key alone is now shut out.
  c.add("old", {}, with_keys({key_of(1)}));
  c.join("old", "a");
  c.run_for(2s);
  CHECK(c.status("a", "old") == MemberStatus::none);
}

Bytes random_bytes(Rng& rng, size_t max_len) {
  Bytes b(rng.uniform(max_len + 1));
  for (auto& x : b) x = static_cast<uint8_t>(rng.next());
  return b;
}

TEST_CASE("encrypted cluster: hostile input is dropped with a reason and changes nothing",
          "[gossip][encryption][fuzz]") {
  test::LocalCluster c(10);
  const std::vector<std::string> names{"n0", "n1", "n2", "n3"};
  std::vector<Bytes> captured;  // real packets, for replays and truncations
  c.tap = [&](const std::string&, const Bytes& data) {
    if (captured.size() < 500) captured.push_back(data);
  };
  for (const auto& n : names) c.add(n, {}, with_keys({key_of(1)}));
  for (size_t i = 1; i < names.size(); ++i) c.join(names[i], "n0");
  c.run_for(5s);
  REQUIRE(all_alive(c, names));
  REQUIRE(captured.size() > 20);
  c.tap = nullptr;

  Rng rng(99);
  const Address attacker = *Address::parse("127.0.0.1:9");
  // The lies that plaintext memberlist cannot refute: a death with the highest
  // incarnation, and a member moved to an address it does not own.
  auto lie = [&]() -> Bytes {
    const std::string& node = names[rng.uniform(names.size())];
    if (rng.uniform(2) == 0) return encode(Dead{0xfffffff0u, node, node});
    return encode(Alive{0xfffffff0u, node, {127, 0, 0, 99}, 7999, {}, {1, 5, 2, 2, 5, 4}});
  };
  for (int i = 0; i < 5000; ++i) {
    Bytes packet;
    switch (rng.uniform(6)) {
      case 0: packet = random_bytes(rng, 80); break;
      case 1: packet = lie(); break;                                              // plaintext
      case 2: packet = encrypt_payload(1, key_of(2), lie(), {}, random_nonce()); break;
      case 3: {                                                                   // truncated
        const Bytes& real = captured[rng.uniform(captured.size())];
        packet.assign(real.begin(), real.begin() + rng.uniform(real.size()));
        break;
      }
      case 4: packet = captured[rng.uniform(captured.size())]; break;            // replay
      default: {                                                                  // tampered
        packet = captured[rng.uniform(captured.size())];
        packet[1 + rng.uniform(packet.size() - 1)] ^= 0x01;
      }
    }
    Serf& s = c.serf(names[rng.uniform(names.size())]);
    if (rng.uniform(10) == 0) {
      (void)s.handle_stream(attacker, encrypt_stream(1, key_of(3), packet, random_nonce()),
                            c.now());
    } else {
      s.handle_packet(attacker, packet, c.now());
    }
    s.check_invariants();
    if (i % 250 == 0) {
      c.run_for(100ms);
      REQUIRE(all_alive(c, names));  // no lie got through, not even for a moment
    }
  }
  MemberlistCounters total;
  for (const auto& n : names) {
    const auto& m = c.serf(n).stats().memberlist;
    total.decrypt_failures += m.decrypt_failures;
    total.replays += m.replays;
    for (const auto& [reason, count] : m.drop_reasons) total.drop_reasons[reason] += count;
  }
  CHECK(total.replays > 0);
  CHECK(total.drop_reasons["decrypt: no key"] > 0);
  CHECK(total.drop_reasons["decrypt: truncated"] + total.drop_reasons["decrypt: empty"] > 0);
  CHECK(total.drop_reasons["decrypt: unknown version"] > 0);
  CHECK(total.drop_reasons["replayed packet"] == total.replays);
  c.run_for(30s);
  CHECK(all_alive(c, names));
  for (const auto& n : names) {
    for (const auto& m : c.serf(n).members()) {
      INFO(n << " sees " << m.name);
      CHECK(m.addr.port != 7999);
    }
  }
}

}  // namespace
}  // namespace shoal::gossip
