// Hostile and malformed input fed straight into running Serf cores: nothing crashes,
// invariants hold after every packet, garbage is counted as dropped, and once the noise
// stops the real members are all alive again in every view.
#include <catch2/catch.hpp>

#include "gossip/lzw.h"
#include "gossip/wire.h"
#include "tests/gossip/local_cluster.h"

namespace shoal::gossip {
namespace {

using namespace std::chrono_literals;

Bytes random_bytes(Rng& rng, size_t max_len) {
  Bytes b(rng.uniform(max_len + 1));
  for (auto& x : b) x = static_cast<uint8_t>(rng.next());
  return b;
}

// A well-formed lie about a real or invented member that the protocol can refute: the
// accused member answers with a higher incarnation or a newer join intent. Two lies are
// left out on purpose, because memberlist's protocol has no answer to them without the
// keyring's authentication (issue: gossip encryption): an incarnation near the 2^32 wrap,
// and an alive message moving a dead or left member to an address it does not own.
Bytes forged_message(Rng& rng, const std::vector<std::string>& names) {
  const bool ghost = rng.uniform(4) == 0;
  const size_t index = rng.uniform(names.size());
  const std::string node = ghost ? "ghost" : names[index];
  const std::string from = names[rng.uniform(names.size())];
  const auto inc = static_cast<uint32_t>(rng.uniform(1000));
  // test::LocalCluster puts node i at 127.0.0.1:7000+i.
  const uint8_t last = ghost ? 99 : 1;
  const auto port = static_cast<uint16_t>(ghost ? 7999 : 7000 + index);
  switch (rng.uniform(6)) {
    case 0: return encode(Suspect{inc, node, from});
    case 1: return encode(Dead{inc, node, from});
    case 2: return encode(Alive{inc, node, {127, 0, 0, last}, port, {}, {1, 5, 2, 2, 5, 5}});
    case 3: return encode(Ping{static_cast<uint32_t>(rng.next()), node, {}, 0, ""});
    case 4: return encode(Ack{static_cast<uint32_t>(rng.next()), random_bytes(rng, 8)});
    default: {
      Bytes user{static_cast<uint8_t>(MessageType::user)};
      Bytes intent = rng.uniform(2) ? encode_serf(SerfLeave{rng.uniform(50), node, false})
                                    : encode_serf(SerfJoin{rng.uniform(50), node});
      user.insert(user.end(), intent.begin(), intent.end());
      return user;
    }
  }
}

Bytes mangle(Bytes b, Rng& rng) {
  switch (rng.uniform(5)) {
    case 0: b.resize(rng.uniform(b.size() + 1)); break;               // truncate
    case 1: if (!b.empty()) b[rng.uniform(b.size())] ^= 1u << rng.uniform(8); break;  // flip
    case 2: b = add_crc(b); if (b.size() > 5) b[5] ^= 0xff; break;   // bad checksum
    case 3: b = encode_compress(b); break;                            // valid wrapper
    default: b = make_compound({b, random_bytes(rng, 20)}); break;   // junk neighbour
  }
  return b;
}

TEST_CASE("forged and mangled packets never crash or corrupt a running cluster",
          "[gossip][fuzz]") {
  test::LocalCluster c(21);
  const std::vector<std::string> names{"n0", "n1", "n2", "n3", "n4"};
  for (const auto& n : names) c.add(n);
  for (size_t i = 1; i < names.size(); ++i) c.join(names[i], "n0");
  c.run_for(5s);

  Rng rng(4242);
  const Address attacker = *Address::parse("127.0.0.1:9");
  uint64_t dropped_before = 0;
  for (const auto& n : names) dropped_before += c.serf(n).stats().memberlist.dropped;

  for (int i = 0; i < 20000; ++i) {
    const std::string& target = names[rng.uniform(names.size())];
    Bytes packet;
    switch (rng.uniform(3)) {
      case 0: packet = random_bytes(rng, 64); break;
      case 1: packet = forged_message(rng, names); break;
      default: packet = mangle(forged_message(rng, names), rng); break;
    }
    Serf& s = c.serf(target);
    if (rng.uniform(10) == 0) {
      (void)s.handle_stream(attacker, packet, c.now());
    } else {
      s.handle_packet(attacker, packet, c.now());
    }
    s.check_invariants();
    if (i % 500 == 0) c.run_for(100ms);
  }

  uint64_t dropped_after = 0;
  for (const auto& n : names) dropped_after += c.serf(n).stats().memberlist.dropped;
  CHECK(dropped_after > dropped_before);

  // The noise stops; refutations and push-pull must bring every real member back.
  c.run_for(90s);
  for (const auto& observer : names) {
    for (const auto& member : names) {
      INFO(observer << " sees " << member);
      CHECK(c.status(observer, member) == MemberStatus::alive);
    }
  }
}

}  // namespace
}  // namespace shoal::gossip
