// Decodes bytes captured from a real serf agent (tests/gossip/testdata/capture.py):
// a push-pull stream, a TCP fallback ping, and the UDP packets it gossiped.
// Checks that we read every layer Go produced, and that re-encoding reproduces Go's
// bytes exactly, including Go's LZW compressor output.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <set>

#include <fmt/format.h>

#include "gossip/lzw.h"
#include "gossip/tags.h"
#include "gossip/wire.h"

using namespace shoal;
using namespace shoal::gossip;

namespace {

Bytes load(const std::string& name) {
  std::ifstream in(std::string(SHOAL_SOURCE_DIR) + "/tests/gossip/testdata/" + name, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

constexpr size_t kMaxOut = 1 << 20;

struct Seen {
  std::set<int> types;
  std::vector<Ping> pings;
  std::vector<Suspect> suspects;
  std::vector<Alive> alives;
  std::vector<SerfUserEvent> events;
  std::vector<SerfQuery> queries;
  std::vector<SerfJoin> joins;
  int compressed = 0, crc = 0, compound = 0;
};

// Peels CRC, compression and compound layers; decodes each message; re-encodes it and
// checks that the bytes are Go's.
void visit(ByteView packet, Seen& seen) {
  REQUIRE(!packet.empty());
  if (packet[0] == static_cast<uint8_t>(MessageType::has_crc)) {
    auto inner = check_crc(packet);
    REQUIRE(inner.ok());
    ++seen.crc;
    return visit(*inner, seen);
  }
  const auto type = static_cast<MessageType>(packet[0]);
  const ByteView body = packet.subspan(1);
  const Bytes original(packet.begin(), packet.end());
  seen.types.insert(packet[0]);
  switch (type) {
    case MessageType::compress: {
      auto plain = decode_compress(body, kMaxOut);
      REQUIRE(plain.ok());
      ++seen.compressed;
      CHECK(encode_compress(*plain) == original);  // our LZW writes Go's exact bits
      return visit(*plain, seen);
    }
    case MessageType::compound: {
      size_t truncated = 0;
      auto parts = split_compound(body, &truncated);
      REQUIRE(parts.ok());
      CHECK(truncated == 0);
      ++seen.compound;
      std::vector<Bytes> copies;
      for (ByteView p : *parts) copies.emplace_back(p.begin(), p.end());
      CHECK(make_compound(copies) == original);
      for (ByteView p : *parts) visit(p, seen);
      return;
    }
    case MessageType::ping: {
      auto m = decode_ping(body);
      REQUIRE(m.ok());
      CHECK(encode(*m) == original);
      seen.pings.push_back(*m);
      return;
    }
    case MessageType::suspect: {
      auto m = decode_suspect(body);
      REQUIRE(m.ok());
      CHECK(encode(*m) == original);
      seen.suspects.push_back(*m);
      return;
    }
    case MessageType::alive: {
      auto m = decode_alive(body);
      REQUIRE(m.ok());
      CHECK(encode(*m) == original);
      seen.alives.push_back(*m);
      return;
    }
    case MessageType::dead: {
      auto m = decode_dead(body);
      REQUIRE(m.ok());
      CHECK(encode(*m) == original);
      return;
    }
    case MessageType::indirect_ping: {
      auto m = decode_indirect_ping(body);
      REQUIRE(m.ok());
      CHECK(encode(*m) == original);
      return;
    }
    case MessageType::user: {  // over UDP: [8][serf message]
      REQUIRE(!body.empty());
      const auto serf_type = static_cast<SerfMessageType>(body[0]);
      const ByteView serf_body = body.subspan(1);
      const Bytes serf_original(body.begin(), body.end());
      if (serf_type == SerfMessageType::user_event) {
        auto e = decode_serf_user_event(serf_body);
        REQUIRE(e.ok());
        CHECK(encode_serf(*e) == serf_original);
        seen.events.push_back(*e);
      } else if (serf_type == SerfMessageType::query) {
        auto q = decode_serf_query(serf_body);
        REQUIRE(q.ok());
        CHECK(encode_serf(*q) == serf_original);
        seen.queries.push_back(*q);
      } else if (serf_type == SerfMessageType::join) {
        auto j = decode_serf_join(serf_body);
        REQUIRE(j.ok());
        CHECK(encode_serf(*j) == serf_original);
        seen.joins.push_back(*j);
      } else {
        FAIL(fmt::format("unexpected serf message type {}", body[0]));
      }
      return;
    }
    default:
      FAIL(fmt::format("unexpected message type {}", packet[0]));
  }
}

}  // namespace

TEST_CASE("golden: serf's join push-pull, LZW-compressed on the stream", "[gossip][golden]") {
  const Bytes stream = load("tcp_00.bin");
  REQUIRE(!stream.empty());
  CHECK(stream[0] == static_cast<uint8_t>(MessageType::compress));
  auto len = stream_message_length(stream);
  REQUIRE(len.ok());
  CHECK(**len == stream.size());

  auto plain = decode_compress(ByteView(stream).subspan(1), kMaxOut);
  REQUIRE(plain.ok());
  CHECK(encode_compress(*plain) == stream);  // byte-identical to Go's compressor
  REQUIRE((*plain)[0] == static_cast<uint8_t>(MessageType::push_pull));
  CHECK(**stream_message_length(*plain) == plain->size());

  auto pp = decode_push_pull(ByteView(*plain).subspan(1));
  REQUIRE(pp.ok());
  CHECK(pp->join);
  REQUIRE(pp->nodes.size() == 1);
  const PushNodeState& golden = pp->nodes[0];
  CHECK(golden.name == "golden");
  CHECK(golden.addr == Bytes{127, 0, 0, 1});
  CHECK(golden.state == NodeStateType::alive);
  // memberlist 1..5 speaking 2; Serf 2..5 speaking 5: the serf agent command defaults to
  // its maximum delegate protocol (the Go library default is 4).
  CHECK(golden.vsn == VersionVector{1, 5, 2, 2, 5, 5});
  auto tags = decode_tags(golden.meta);
  REQUIRE(tags.ok());
  CHECK(*tags == Tags{{"role", "web"}, {"dc", "x"}});
  // Go writes maps in random order; with two tags, compare as decoded rather than as bytes.
  CHECK(*decode_tags(encode_tags(*tags).value()) == *tags);
  CHECK(encode_push_pull(*pp) == *plain);

  REQUIRE(!pp->user_state.empty());
  REQUIRE(pp->user_state[0] == static_cast<uint8_t>(SerfMessageType::push_pull));
  auto serf = decode_serf_push_pull(ByteView(pp->user_state).subspan(1));
  REQUIRE(serf.ok());
  CHECK(serf->status_ltimes.count("golden") == 1);
  CHECK(serf->left_members.empty());
}

TEST_CASE("golden: the TCP fallback ping is a compressed ping", "[gossip][golden]") {
  const Bytes stream = load("tcp_01.bin");
  REQUIRE(!stream.empty());
  CHECK(**stream_message_length(stream) == stream.size());
  Seen seen;
  visit(stream, seen);
  REQUIRE(seen.pings.size() == 1);
  CHECK(seen.pings[0].node == "listener");
  CHECK(seen.pings[0].source_node == "golden");
}

TEST_CASE("golden: every UDP packet decodes, and re-encodes to Go's bytes", "[gossip][golden]") {
  Seen seen;
  int files = 0;
  for (int i = 0; i < 100; ++i) {
    const Bytes packet = load(fmt::format("udp_{:02d}.bin", i));
    if (packet.empty()) break;
    ++files;
    visit(packet, seen);
  }
  REQUIRE(files > 0);
  CHECK(seen.crc > 0);         // we announced protocol max 5, so the agent adds CRCs
  CHECK(seen.compressed > 0);  // and compresses whatever LZW makes smaller
  CHECK(seen.compound > 0);
  REQUIRE(!seen.suspects.empty());
  CHECK(seen.suspects[0].node == "listener");
  CHECK(seen.suspects[0].from == "golden");
  REQUIRE(!seen.events.empty());
  CHECK(seen.events[0].name == "deploy");
  CHECK(seen.events[0].payload == to_bytes("v42"));
  CHECK(seen.events[0].cc);
  REQUIRE(!seen.queries.empty());
  const SerfQuery& q = seen.queries[0];
  CHECK(q.name == "whoami");
  CHECK(q.payload == to_bytes("hi"));
  CHECK(q.source_node == "golden");
  CHECK(q.timeout_ns == 1'000'000'000);
  REQUIRE(q.filters.size() == 1);
  auto filter = decode_filter_tag(q.filters[0]);
  REQUIRE(filter.ok());
  CHECK(filter->tag == "role");
  CHECK(filter->expr == "capture");
}
