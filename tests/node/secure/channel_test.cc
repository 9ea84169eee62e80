// The node-to-node channel's handshake and records (node/secure/): who gets in, and that
// no forged, replayed, reordered or cut record is ever taken.
#include <catch2/catch.hpp>
#include <sodium.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

#include "node/secure/cluster_secret.h"
#include "node/secure/handshake.h"
#include "node/secure/session.h"

using namespace shoal;
using namespace shoal::node::secure;

namespace {

struct Pair {
  std::unique_ptr<Session> client;
  std::unique_ptr<Session> server;
};

// A full handshake between a client holding `key` and a server holding `ring`.
Result<Pair> connect(const SecretKey& key, const Keyring& ring) {
  ClientHandshake hs(key);
  auto accepted = accept_hello(ring, hs.hello());
  if (!accepted.ok()) {
    auto refused = hs.finish(ByteView(kRefusal.data(), kRefusal.size()));
    REQUIRE_FALSE(refused.ok());
    return accepted.status();
  }
  auto client = hs.finish(accepted->reply);
  if (!client.ok()) return client.status();
  return Pair{std::move(*client), std::move(accepted->session)};
}

Bytes seal(Sealer& s, std::string_view text) {
  Bytes out;
  s.seal(as_bytes(text), out);
  return out;
}

std::string open_all(Opener& o, const Bytes& in, Status* st = nullptr) {
  Bytes plain;
  Status s = o.feed(in, plain);
  if (st) *st = s;
  return std::string(as_string_view(plain));
}

}  // namespace

TEST_CASE("channel: both sides of a handshake agree, in both directions") {
  REQUIRE(sodium_init() >= 0);
  const SecretKey key = generate_secret();
  auto pair = connect(key, Keyring({key}));
  REQUIRE(pair.ok());
  CHECK(open_all(pair->server->opener, seal(pair->client->sealer, "GET /v1/health")) ==
        "GET /v1/health");
  CHECK(open_all(pair->client->opener, seal(pair->server->sealer, "HTTP/1.1 200 OK")) ==
        "HTTP/1.1 200 OK");
  // Many records, fed a byte at a time: the record boundaries do not matter to the reader.
  Bytes wire = seal(pair->client->sealer, "one");
  Bytes more = seal(pair->client->sealer, "two");
  wire.insert(wire.end(), more.begin(), more.end());
  Bytes plain;
  for (uint8_t b : wire) REQUIRE(pair->server->opener.feed(ByteView(&b, 1), plain).ok());
  CHECK(std::string(as_string_view(plain)) == "onetwo");
}

TEST_CASE("channel: a write larger than a record is split and arrives whole") {
  REQUIRE(sodium_init() >= 0);
  const SecretKey key = generate_secret();
  auto pair = connect(key, Keyring({key}));
  REQUIRE(pair.ok());
  std::string big(3 * kMaxRecordPlain + 17, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  const Bytes wire = seal(pair->client->sealer, big);
  CHECK(wire.size() == big.size() + 4 * kRecordOverhead);
  SECTION("in one piece") { CHECK(open_all(pair->server->opener, wire) == big); }
  SECTION("in pieces that straddle records") {
    Bytes plain;
    for (size_t at = 0, step = 1; at < wire.size(); at += step, step = step * 7 + 3) {
      const size_t n = std::min(step, wire.size() - at);
      REQUIRE(pair->server->opener.feed(ByteView(wire.data() + at, n), plain).ok());
    }
    CHECK(std::string(as_string_view(plain)) == big);
  }
}

TEST_CASE("channel: a caller without our secret is refused and learns nothing") {
  REQUIRE(sodium_init() >= 0);
  const SecretKey ours = generate_secret();
  const SecretKey theirs = generate_secret();
  ClientHandshake hs(theirs);
  auto accepted = accept_hello(Keyring({ours}), hs.hello());
  REQUIRE_FALSE(accepted.ok());
  CHECK(accepted.status().is(Status::Code::permission_denied));
  auto answer = hs.finish(ByteView(kRefusal.data(), kRefusal.size()));
  REQUIRE_FALSE(answer.ok());
  CHECK(answer.status().is(Status::Code::permission_denied));
}

TEST_CASE("channel: a server without our secret cannot answer the handshake") {
  REQUIRE(sodium_init() >= 0);
  const SecretKey ours = generate_secret();
  const SecretKey other = generate_secret();
  ClientHandshake hs(ours);
  // A server keyed with another secret answers our (replayed, to it valid-looking) hello:
  // forge its answer by accepting a hello of its own and splicing in our transcript.
  ClientHandshake its_client(other);
  auto forged = accept_hello(Keyring({other}), its_client.hello());
  REQUIRE(forged.ok());
  auto answer = hs.finish(forged->reply);
  REQUIRE_FALSE(answer.ok());
  CHECK(answer.status().is(Status::Code::unauthenticated));
  // Something that is no handshake at all.
  Bytes junk(kHelloBytes, 0x41);
  auto junk_answer = ClientHandshake(ours).finish(junk);
  REQUIRE_FALSE(junk_answer.ok());
  CHECK(junk_answer.status().is(Status::Code::corruption));
}

TEST_CASE("channel: plaintext Raft or HTTP is no hello") {
  REQUIRE(sodium_init() >= 0);
  const Keyring ring({generate_secret()});
  Bytes http(kHelloBytes, ' ');
  std::memcpy(http.data(), "GET /v1/internal/catalog HTTP/1.1", 33);
  CHECK(accept_hello(ring, http).status().is(Status::Code::corruption));
  Bytes raft(kHelloBytes, 0);
  CHECK(accept_hello(ring, raft).status().is(Status::Code::corruption));
  CHECK_FALSE(is_hello_magic(http));
  CHECK_FALSE(is_hello_magic(raft));
}

TEST_CASE("channel: rotation: a ring accepts every secret it holds, dials with the first") {
  REQUIRE(sodium_init() >= 0);
  const SecretKey old_key = generate_secret();
  const SecretKey new_key = generate_secret();
  const Keyring both({new_key, old_key});
  ClientHandshake hs(old_key);
  auto accepted = accept_hello(both, hs.hello());
  REQUIRE(accepted.ok());
  CHECK(accepted->key_index == 1);
  auto client = hs.finish(accepted->reply);
  REQUIRE(client.ok());
  CHECK(open_all(accepted->session->opener, seal((*client)->sealer, "hi")) == "hi");
  CHECK(accept_hello(Keyring({new_key}), ClientHandshake(old_key).hello()).status().is(
      Status::Code::permission_denied));
}

TEST_CASE("channel: a replayed client hello gets keys the replayer cannot use") {
  REQUIRE(sodium_init() >= 0);
  const SecretKey key = generate_secret();
  const Keyring ring({key});
  ClientHandshake hs(key);
  auto first = accept_hello(ring, hs.hello());
  auto replay = accept_hello(ring, hs.hello());
  REQUIRE(first.ok());
  REQUIRE(replay.ok());
  CHECK(first->reply != replay->reply);  // a fresh server key each time
  auto client = hs.finish(first->reply);
  REQUIRE(client.ok());
  // What the real client seals does not open on the replayed connection's session.
  Status st;
  open_all(replay->session->opener, seal((*client)->sealer, "POST /v1/internal/assign"), &st);
  CHECK(st.is(Status::Code::corruption));
}

TEST_CASE("channel: forged, replayed, reordered and cut records are refused") {
  REQUIRE(sodium_init() >= 0);
  const SecretKey key = generate_secret();
  auto fresh = [&] {
    auto p = connect(key, Keyring({key}));
    REQUIRE(p.ok());
    return std::move(*p);
  };
  SECTION("a flipped bit") {
    Pair p = fresh();
    Bytes wire = seal(p.client->sealer, "scale web to 100");
    wire.back() ^= 1;
    Status st;
    CHECK(open_all(p.server->opener, wire, &st).empty());
    CHECK(st.is(Status::Code::corruption));
    // The channel is dead after it: even a good record is refused.
    Bytes plain;
    CHECK_FALSE(p.server->opener.feed(seal(p.client->sealer, "x"), plain).ok());
  }
  SECTION("a record sent again") {
    Pair p = fresh();
    const Bytes record = seal(p.client->sealer, "one");
    CHECK(open_all(p.server->opener, record) == "one");
    Status st;
    open_all(p.server->opener, record, &st);
    CHECK(st.is(Status::Code::corruption));
  }
  SECTION("records out of order") {
    Pair p = fresh();
    const Bytes a = seal(p.client->sealer, "first");
    const Bytes b = seal(p.client->sealer, "second");
    Bytes swapped = b;
    swapped.insert(swapped.end(), a.begin(), a.end());
    Status st;
    open_all(p.server->opener, swapped, &st);
    CHECK(st.is(Status::Code::corruption));
  }
  SECTION("a record dropped") {
    Pair p = fresh();
    (void)seal(p.client->sealer, "first");
    Status st;
    CHECK(open_all(p.server->opener, seal(p.client->sealer, "second"), &st).empty());
    CHECK(st.is(Status::Code::corruption));
  }
  SECTION("a record marked final, or a final record unmarked") {
    Pair p = fresh();
    Bytes wire = seal(p.client->sealer, "more to come");
    wire[0] ^= 0x80;  // the final bit: the header is authenticated with the record
    Status st;
    CHECK(open_all(p.server->opener, wire, &st).empty());
    CHECK(st.is(Status::Code::corruption));
    CHECK_FALSE(p.server->opener.finished());
    Pair q = fresh();
    Bytes end;
    q.client->sealer.close(end);
    end[0] ^= 0x80;
    open_all(q.server->opener, end, &st);
    CHECK(st.is(Status::Code::corruption));
    CHECK(q.server->opener.end_of_input().is(Status::Code::corruption));
  }
  SECTION("a stream cut before its final record") {
    Pair p = fresh();
    Bytes wire = seal(p.client->sealer, "half a request");
    CHECK(open_all(p.server->opener, Bytes(wire.begin(), wire.end() - 3)).empty());
    CHECK(p.server->opener.end_of_input().is(Status::Code::corruption));
  }
  SECTION("a clean end, and nothing after it") {
    Pair p = fresh();
    Bytes wire = seal(p.client->sealer, "bye");
    p.client->sealer.close(wire);
    CHECK(open_all(p.server->opener, wire) == "bye");
    CHECK(p.server->opener.finished());
    CHECK(p.server->opener.end_of_input().ok());
    Status st;
    open_all(p.server->opener, Bytes{1, 2, 3}, &st);
    CHECK(st.is(Status::Code::corruption));
  }
  SECTION("a record length past the limit") {
    Pair p = fresh();
    Bytes wire = seal(p.client->sealer, "x");
    wire[0] = 0x7f;  // the length's high byte
    Status st;
    open_all(p.server->opener, wire, &st);
    CHECK(st.is(Status::Code::corruption));
  }
}

TEST_CASE("channel: mutated handshakes and records never get through (fuzz)") {
  REQUIRE(sodium_init() >= 0);
  const SecretKey key = generate_secret();
  const Keyring ring({key});
  std::mt19937_64 rng(20261207);
  for (int round = 0; round < 2000; ++round) {
    ClientHandshake hs(key);
    Bytes hello(hs.hello().begin(), hs.hello().end());
    const size_t at = rng() % hello.size();
    const uint8_t flip = static_cast<uint8_t>(1 + rng() % 255);
    hello[at] ^= flip;
    CHECK_FALSE(accept_hello(ring, hello).ok());

    auto accepted = accept_hello(ring, hs.hello());
    REQUIRE(accepted.ok());
    Bytes reply = accepted->reply;
    reply[rng() % reply.size()] ^= flip;
    CHECK_FALSE(hs.finish(reply).ok());

    // Random bytes (of random length) into a fresh opener: never plaintext out.
    auto pair = connect(key, ring);
    REQUIRE(pair.ok());
    Bytes wire = seal(pair->client->sealer, "payload " + std::to_string(round));
    if (round % 2 == 0) {
      wire[rng() % wire.size()] ^= flip;
    } else {
      wire.resize(rng() % 512);
      for (auto& b : wire) b = static_cast<uint8_t>(rng());
    }
    Bytes plain;
    (void)pair->server->opener.feed(wire, plain);
    CHECK(plain.empty());
  }
}

TEST_CASE("cluster secret: text form, files and their errors") {
  REQUIRE(sodium_init() >= 0);
  const SecretKey k = generate_secret();
  const std::string text = secret_text(k);
  CHECK(text.rfind("shoal-secret-", 0) == 0);
  CHECK(text.size() == 13 + 43);
  auto back = parse_secret(text);
  REQUIRE(back.ok());
  CHECK(*back == k);
  CHECK_FALSE(parse_secret("shoal-secret-short").ok());
  CHECK_FALSE(parse_secret(text.substr(13)).ok());
  auto ring = parse_keyring("# rotation\n\n" + text + "\n" + secret_text(generate_secret()) + "\n");
  REQUIRE(ring.ok());
  CHECK(ring->keys().size() == 2);
  CHECK(ring->primary() == k);
  auto bad = parse_keyring(text + "\nnot-a-secret\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("line 2") != std::string::npos);
  CHECK(bad.status().message().find(text.substr(13)) == std::string::npos);  // no key in errors
  CHECK_FALSE(parse_keyring("# nothing\n").ok());

  const auto dir = std::filesystem::temp_directory_path() / ("shoal-secret-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "secret";
  std::ofstream(file) << text << "\n";
  ::chmod(file.c_str(), 0644);
  auto loose = load_keyring(file);
  REQUIRE_FALSE(loose.ok());
  CHECK(loose.status().is(Status::Code::permission_denied));
  ::chmod(file.c_str(), 0600);
  auto loaded = load_keyring(file);
  REQUIRE(loaded.ok());
  CHECK(loaded->primary() == k);
  CHECK(load_keyring(dir / "missing").status().is(Status::Code::not_found));
  std::filesystem::remove_all(dir);
}
