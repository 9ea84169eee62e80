// The Serf agent RPC codec and filters, without sockets: framing, bodies, bad input, and a
// bounded randomized run over broken frames.
#include <catch2/catch.hpp>

#include <random>

#include "gossip/msgpack_reader.h"
#include "gossip/msgpack_writer.h"
#include "node/serf_rpc/codec.h"
#include "node/serf_rpc/filters.h"

namespace shoal::node::serf_rpc {
namespace {

Bytes handshake_body(int64_t version) {
  Bytes b;
  gossip::MsgpackWriter w(b);
  w.write_map_header(1);
  w.key("Version");
  w.write_int(version);
  return b;
}

Bytes event_body(std::string_view name, std::string_view payload, bool coalesce) {
  Bytes b;
  gossip::MsgpackWriter w(b);
  w.write_map_header(4);
  w.key("Name");
  w.write_str(name);
  w.key("Payload");
  w.write_raw(as_bytes(payload));
  w.key("Coalesce");
  w.write_bool(coalesce);
  w.key("FutureField");  // unknown fields are skipped, as Go does
  w.write_array_header(2);
  w.write_uint(1);
  w.write_str("x");
  return b;
}

std::vector<Request> drain(RequestDecoder& d) {
  std::vector<Request> out;
  for (int i = 0; i < 100; ++i) {
    auto r = d.next();
    REQUIRE(r.ok());
    if (!r->has_value()) break;
    out.push_back(std::move(**r));
  }
  return out;
}

TEST_CASE("serf rpc: a handshake and a body-less members request decode in one buffer",
          "[serf_rpc][codec]") {
  Bytes stream = encode_request("handshake", 1, handshake_body(1));
  Bytes members = encode_request("members", 2);
  stream.insert(stream.end(), members.begin(), members.end());
  Bytes event = encode_request("event", 3, event_body("deploy", "v2", true));
  stream.insert(stream.end(), event.begin(), event.end());

  RequestDecoder d;
  d.feed(stream);
  auto reqs = drain(d);
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].command == Command::handshake);
  CHECK(reqs[0].seq == 1);
  CHECK(std::get<HandshakeRequest>(reqs[0].body).version == 1);
  CHECK(reqs[1].command == Command::members);
  CHECK(std::holds_alternative<NoBody>(reqs[1].body));
  CHECK(reqs[2].command == Command::event);
  const auto& ev = std::get<EventRequest>(reqs[2].body);
  CHECK(ev.name == "deploy");
  CHECK(as_string_view(ev.payload) == "v2");
  CHECK(ev.coalesce);
  CHECK(d.buffered() == 0);
}

TEST_CASE("serf rpc: requests fed one byte at a time come out whole", "[serf_rpc][codec]") {
  Bytes stream = encode_request("event", 7, event_body("e", std::string(300, 'p'), false));
  RequestDecoder d;
  for (size_t i = 0; i + 1 < stream.size(); ++i) {
    d.feed(ByteView(&stream[i], 1));
    auto r = d.next();
    REQUIRE(r.ok());
    CHECK_FALSE(r->has_value());
  }
  d.feed(ByteView(&stream.back(), 1));
  auto r = d.next();
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  CHECK(std::get<EventRequest>((*r)->body).payload.size() == 300);
}

TEST_CASE("serf rpc: an unknown command comes back with its seq, then the stream is given up",
          "[serf_rpc][codec]") {
  RequestDecoder d;
  d.feed(encode_request("self-destruct", 9, handshake_body(1)));
  auto r = d.next();
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  CHECK((*r)->command == Command::unknown);
  CHECK((*r)->seq == 9);
  CHECK((*r)->command_name == "self-destruct");
  CHECK(d.broken());
  CHECK(d.next().status().code() == Status::Code::failed_precondition);
}

TEST_CASE("serf rpc: malformed frames are errors, never crashes", "[serf_rpc][codec]") {
  SECTION("a byte that cannot start msgpack") {
    RequestDecoder d;
    const uint8_t bad[] = {0xc1};
    d.feed(ByteView(bad, 1));
    CHECK(d.next().status().code() == Status::Code::corruption);
  }
  SECTION("a header that is not a map") {
    RequestDecoder d;
    Bytes b;
    gossip::MsgpackWriter(b).write_str("handshake");
    d.feed(b);
    CHECK_FALSE(d.next().ok());
  }
  SECTION("a Seq of the wrong type") {
    Bytes b;
    gossip::MsgpackWriter w(b);
    w.write_map_header(2);
    w.key("Command");
    w.write_str("members");
    w.key("Seq");
    w.write_str("one");
    RequestDecoder d;
    d.feed(b);
    auto r = d.next();
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("Seq"));
  }
  SECTION("a body field of the wrong type is reported with the request's seq") {
    Bytes body;
    gossip::MsgpackWriter w(body);
    w.write_map_header(1);
    w.key("Version");
    w.write_str("one");
    RequestDecoder d;
    d.feed(encode_request("handshake", 4, body));
    auto r = d.next();
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    CHECK((*r)->seq == 4);
    CHECK_FALSE((*r)->body_error.ok());
    CHECK_THAT((*r)->body_error.message(), Catch::Contains("Version"));
    CHECK(d.broken());
  }
  SECTION("a handshake version past int32") {
    RequestDecoder d;
    d.feed(encode_request("handshake", 1, handshake_body(int64_t{1} << 40)));
    auto r = d.next();
    REQUIRE(r.ok());
    CHECK_FALSE((*r)->body_error.ok());
  }
  SECTION("a value larger than the limit, complete or not") {
    RequestDecoder d(64);
    d.feed(encode_request("event", 1, event_body("big", std::string(100, 'x'), false)));
    auto r = d.next();
    REQUIRE(r.ok());
    CHECK_FALSE((*r)->body_error.ok());

    RequestDecoder d2(64);
    Bytes head = encode_request("event", 1, event_body("big", std::string(1000, 'x'), false));
    head.resize(200);  // still incomplete, already past the limit
    d2.feed(head);
    auto r2 = d2.next();
    REQUIRE(r2.ok());
    CHECK_THAT((*r2)->body_error.message(), Catch::Contains("larger than 64"));
  }
  SECTION("a huge array count claimed by a few bytes needs more data, allocates nothing") {
    const uint8_t claim[] = {0xdd, 0xff, 0xff, 0xff, 0xff};  // array32 of 4 billion
    RequestDecoder d;
    d.feed(ByteView(claim, sizeof claim));
    auto r = d.next();
    REQUIRE(r.ok());
    CHECK_FALSE(r->has_value());
  }
}

TEST_CASE("serf rpc: responses are the forms go-msgpack writes with WriteExt",
          "[serf_rpc][codec]") {
  Bytes out;
  encode_response_header(out, 300, std::string(40, 'e'));
  size_t used = 0;
  auto h = decode_response_header(out, &used);
  REQUIRE(h.ok());
  REQUIRE(h->has_value());
  CHECK((*h)->seq == 300);
  CHECK((*h)->error == std::string(40, 'e'));
  CHECK(used == out.size());
  // {Seq: 300, Error: str8(40)}: fixmap, "Seq", uint16, "Error", str8.
  CHECK(out[0] == 0x82);
  CHECK(std::find(out.begin(), out.end(), 0xd9) != out.end());

  gossip::Member m;
  m.name = "web-1";
  m.addr = *gossip::Address::parse("10.0.0.7:7946");
  m.tags = {{"role", "web"}};
  m.status = gossip::MemberStatus::alive;
  m.vsn = {1, 5, 2, 2, 5, 4};
  Bytes body;
  encode_members_response(body, {m});
  gossip::MsgpackReader r(body);
  std::string name, status;
  Bytes addr;
  uint16_t port = 0;
  uint8_t dcur = 0;
  REQUIRE(gossip::read_struct(r, "membersResponse", [&](std::string_view f) -> Status {
            if (f != "Members") return r.skip();
            auto n = r.read_array_header();
            if (!n.ok() || *n != 1) return Status::corruption("one member expected");
            return gossip::read_struct(r, "Member", [&](std::string_view k) -> Status {
              if (k == "Name") return gossip::read_value(r, name);
              if (k == "Status") return gossip::read_value(r, status);
              if (k == "Addr") {
                auto kind = r.peek();
                if (!kind.ok() || *kind != gossip::MsgpackKind::bin) {
                  return Status::corruption("Addr must be bin");
                }
                return gossip::read_value(r, addr);
              }
              if (k == "Port") return gossip::read_value(r, port);
              if (k == "DelegateCur") return gossip::read_value(r, dcur);
              return r.skip();
            });
          }).ok());
  CHECK(name == "web-1");
  CHECK(status == "alive");
  CHECK(addr == Bytes{10, 0, 0, 7});
  CHECK(port == 7946);
  CHECK(dcur == 4);
}

TEST_CASE("serf rpc: randomized broken frames never crash the decoder", "[serf_rpc][codec][fuzz]") {
  std::mt19937_64 rng(20261126);
  std::vector<Bytes> seeds = {
      encode_request("handshake", 1, handshake_body(1)),
      encode_request("members", 2),
      encode_request("event", 3, event_body("deploy", "payload", true)),
      encode_request("stop", 4, handshake_body(5)),
  };
  for (int iter = 0; iter < 20000; ++iter) {
    Bytes frame = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !frame.empty(); ++e) {
      switch (rng() % 4) {
        case 0: frame[rng() % frame.size()] = static_cast<uint8_t>(rng()); break;
        case 1: frame.resize(rng() % frame.size()); break;
        case 2: frame.insert(frame.begin() + static_cast<std::ptrdiff_t>(rng() % frame.size()),
                             static_cast<uint8_t>(rng())); break;
        default: frame.push_back(static_cast<uint8_t>(rng())); break;
      }
    }
    RequestDecoder d(4096);
    // Split at a random point: a decoder must give the same answer however bytes arrive.
    const size_t cut = frame.empty() ? 0 : rng() % frame.size();
    d.feed(ByteView(frame.data(), cut));
    for (int step = 0; step < 8; ++step) {
      auto r = d.next();
      if (!r.ok() || !r->has_value()) break;
    }
    d.feed(ByteView(frame.data() + cut, frame.size() - cut));
    for (int step = 0; step < 8; ++step) {
      auto r = d.next();
      if (!r.ok() || !r->has_value()) break;
    }
  }
  SUCCEED("20000 mutated frames decoded or rejected");
}

TEST_CASE("serf rpc: event filters follow serf's stream Type syntax", "[serf_rpc][filters]") {
  CHECK(EventFilter::parse("").has_value());
  CHECK(EventFilter::parse("member-join,user:deploy,query:*").has_value());
  CHECK_FALSE(EventFilter::parse("member-joined").has_value());
  CHECK_FALSE(EventFilter::parse("member-join,,user").has_value());  // serf rejects "" too

  auto f = *EventFilter::parse("member-failed,user:deploy");
  AgentEvent e;
  e.kind = AgentEvent::Kind::member;
  e.member_type = gossip::MemberEventType::failed;
  CHECK(f.matches(e));
  e.member_type = gossip::MemberEventType::join;
  CHECK_FALSE(f.matches(e));
  e.kind = AgentEvent::Kind::user;
  e.user.name = "deploy";
  CHECK(f.matches(e));
  e.user.name = "other";
  CHECK_FALSE(f.matches(e));
  CHECK(EventFilter::parse("*")->matches(e));
}

TEST_CASE("serf rpc: member filters are anchored regexes, a missing tag reads as empty",
          "[serf_rpc][filters]") {
  gossip::Member web;
  web.name = "web-1";
  web.status = gossip::MemberStatus::alive;
  web.tags = {{"role", "web"}};
  gossip::Member db = web;
  db.name = "db-1";
  db.status = gossip::MemberStatus::failed;
  db.tags = {};

  auto by_status = SerfMemberFilter::create({}, "alive|left", "");
  REQUIRE(by_status.ok());
  CHECK(by_status->matches(web));
  CHECK_FALSE(by_status->matches(db));

  auto by_tag = SerfMemberFilter::create({{"role", "we"}}, "", "");
  REQUIRE(by_tag.ok());
  CHECK_FALSE(by_tag->matches(web));  // whole value only
  auto any_role = SerfMemberFilter::create({{"role", ".*"}}, "", "");
  CHECK(any_role->matches(db));  // no tag: "" matches .*

  auto by_name = SerfMemberFilter::create({}, "", "web-.*");
  CHECK(by_name->matches(web));
  CHECK_FALSE(by_name->matches(db));

  auto bad = SerfMemberFilter::create({}, "(", "");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::StartsWith("Failed to compile regex"));

  CHECK(monitor_level("debug") == spdlog::level::debug);
  CHECK(monitor_level("ERR") == spdlog::level::err);
  CHECK_FALSE(monitor_level("error").has_value());
  CHECK_FALSE(monitor_level("").has_value());
}

}  // namespace
}  // namespace shoal::node::serf_rpc
