// Tests of the memberlist/Serf wire codec: exact bytes, round trips, framing, limits.
#include <catch2/catch.hpp>

#include "gossip/msgpack_reader.h"
#include "gossip/wire.h"

using namespace shoal;
using namespace shoal::gossip;

namespace {

ByteView body_of(const Bytes& msg) { return ByteView(msg).subspan(1); }

// Every map in `bytes` (recursively) has its keys in byte-wise order, as go-msgpack
// writes struct fields. Returns false on the first unordered map.
bool keys_sorted(MsgpackReader& r) {
  auto kind = r.peek();
  if (!kind.ok()) return false;
  if (*kind == MsgpackKind::map) {
    auto n = r.read_map_header();
    std::string prev;
    for (uint32_t i = 0; i < *n; ++i) {
      auto key = r.read_raw();
      if (!key.ok()) return false;
      std::string k(as_string_view(*key));
      if (i > 0 && !(prev < k)) return false;
      prev = k;
      if (!keys_sorted(r)) return false;
    }
    return true;
  }
  if (*kind == MsgpackKind::array) {
    auto n = r.read_array_header();
    for (uint32_t i = 0; i < *n; ++i) {
      if (!keys_sorted(r)) return false;
    }
    return true;
  }
  return r.skip().ok();
}

bool keys_sorted(ByteView body) {
  MsgpackReader r(body);
  return keys_sorted(r);
}

Bytes hex(std::string_view h) {
  Bytes out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

}  // namespace

TEST_CASE("ping: exact bytes as Go writes them, omitempty honoured", "[gossip][wire]") {
  Ping p{1, "listener", {127, 0, 0, 1}, 41039, "golden"};
  // map of 5, keys sorted: Node, SeqNo, SourceAddr, SourceNode, SourcePort (uint16 0xa04f).
  const Bytes expected = hex(
      "0085a44e6f6465a86c697374656e6572a55365714e6f01aa536f7572636541646472a47f000001"
      "aa536f757263654e6f6465a6676f6c64656eaa536f75726365506f7274cda04f");
  CHECK(encode(p) == expected);
  Ping bare{300, "", {}, 0, ""};  // Source* omitted; SeqNo as uint16
  CHECK(encode(bare) == hex("0082a44e6f6465a0a55365714e6fcd012c"));
  auto back = decode_ping(body_of(expected));
  REQUIRE(back.ok());
  CHECK(back->seq_no == 1);
  CHECK(back->node == "listener");
  CHECK(back->source_addr == Bytes{127, 0, 0, 1});
  CHECK(back->source_port == 41039);
  CHECK(back->source_node == "golden");
}

TEST_CASE("suspect and ack: exact bytes", "[gossip][wire]") {
  CHECK(encode(Suspect{1, "listener", "golden"}) ==
        hex("0383a446726f6da6676f6c64656eab496e6361726e6174696f6e01a44e6f6465a86c697374656e6572"));
  // An empty payload is a Go nil slice: 0xc0.
  CHECK(encode(Ack{7, {}}) == hex("0282a75061796c6f6164c0a55365714e6f07"));
  CHECK(encode(Nack{7}) == hex("0b81a55365714e6f07"));
}

TEST_CASE("every memberlist message round-trips with sorted keys", "[gossip][wire]") {
  const Ping ping{9, "b", {10, 0, 0, 1}, 7946, "a"};
  const IndirectPing ind{70000, {10, 0, 0, 2}, 7946, "c", true, {10, 0, 0, 1}, 7947, "a"};
  const Ack ack{5, {1, 2, 3}};
  const ErrResp err{"nope"};
  const Alive alive{3, "n", {127, 0, 0, 1}, 7946, {0xff, 0x80}, {1, 5, 2, 2, 5, 4}};
  const Dead dead{4, "n", "n"};
  for (const Bytes& m : {encode(ping), encode(ind), encode(ack), encode(err), encode(alive),
                         encode(dead), encode(Suspect{1, "x", "y"}), encode(Nack{2})}) {
    CHECK(keys_sorted(body_of(m)));
  }
  auto p = decode_ping(body_of(encode(ping)));
  REQUIRE(p.ok());
  CHECK((p->seq_no == 9 && p->node == "b" && p->source_port == 7946 && p->source_node == "a"));
  auto i = decode_indirect_ping(body_of(encode(ind)));
  REQUIRE(i.ok());
  CHECK((i->seq_no == 70000 && i->target == ind.target && i->port == 7946 && i->node == "c" &&
         i->nack && i->source_addr == ind.source_addr && i->source_port == 7947 && i->source_node == "a"));
  auto a = decode_ack(body_of(encode(ack)));
  REQUIRE(a.ok());
  CHECK((a->seq_no == 5 && a->payload == ack.payload));
  CHECK(decode_err(body_of(encode(err)))->error == "nope");
  CHECK(decode_nack(body_of(encode(Nack{2})))->seq_no == 2);
  auto al = decode_alive(body_of(encode(alive)));
  REQUIRE(al.ok());
  CHECK((al->incarnation == 3 && al->node == "n" && al->addr == alive.addr && al->port == 7946 &&
         al->meta == alive.meta && al->vsn == alive.vsn));
  auto d = decode_dead(body_of(encode(dead)));
  REQUIRE(d.ok());
  CHECK((d->incarnation == 4 && d->node == "n" && d->from == "n"));
  auto s = decode_suspect(body_of(encode(Suspect{1, "x", "y"})));
  REQUIRE(s.ok());
  CHECK((s->node == "x" && s->from == "y"));
}

TEST_CASE("decoders name the message and field on a type error", "[gossip][wire]") {
  // {"SeqNo": "x"}
  const Bytes bad = hex("81a55365714e6fa178");
  CHECK(decode_ping(bad).status().to_string() == "corruption: ping: field SeqNo: expected integer, got str");
  CHECK(decode_ack(hex("a178")).status().message() == "ack: expected map, got str");
  CHECK(decode_alive(hex("81a4506f7274ce00010000")).status().message() ==
        "alive: field Port: integer 65536 overflows uint16");
}

TEST_CASE("push-pull: round trip, limits", "[gossip][wire]") {
  PushPull pp;
  pp.join = true;
  pp.nodes.push_back({"a", {127, 0, 0, 1}, 7946, {0xff, 0x80}, 3, NodeStateType::alive, {1, 5, 2, 2, 5, 4}});
  pp.nodes.push_back({"b", {127, 0, 0, 2}, 7947, {}, 9, NodeStateType::left, {1, 5, 2, 2, 5, 4}});
  pp.user_state = {2, 0x80};
  const Bytes wire = encode_push_pull(pp);
  CHECK(keys_sorted(body_of(wire)));
  auto back = decode_push_pull(body_of(wire));
  REQUIRE(back.ok());
  CHECK(back->join);
  REQUIRE(back->nodes.size() == 2);
  CHECK((back->nodes[1].name == "b" && back->nodes[1].state == NodeStateType::left &&
         back->nodes[1].incarnation == 9 && back->nodes[0].meta == pp.nodes[0].meta));
  CHECK(back->user_state == pp.user_state);
  CHECK(encode_push_pull(*back) == wire);

  auto len = stream_message_length(wire);
  REQUIRE(len.ok());
  CHECK(**len == wire.size());
  for (size_t cut = 0; cut < wire.size(); ++cut) {
    auto partial = stream_message_length(ByteView(wire).first(cut));
    REQUIRE(partial.ok());
    CHECK(!partial->has_value());
    CHECK(!decode_push_pull(ByteView(wire).subspan(1, cut > 0 ? cut - 1 : 0)).ok());
  }
  // {Join: false, Nodes: 1000000, UserStateLen: 0} with no node bytes behind it.
  const Bytes liar = hex("83a44a6f696ec2a54e6f646573ce000f4240ac5573657253746174654c656e00");
  CHECK(decode_push_pull(liar).status().message().find("1000000 nodes") != std::string::npos);
  // UserStateLen beyond the 20 MiB limit.
  const Bytes greedy = hex("83a44a6f696ec2a54e6f64657300ac5573657253746174654c656ece7fffffff");
  CHECK(!decode_push_pull(greedy).ok());
  Bytes greedy_stream{6};
  greedy_stream.insert(greedy_stream.end(), greedy.begin(), greedy.end());
  CHECK(!stream_message_length(greedy_stream).ok());
}

TEST_CASE("user messages on a stream carry their length", "[gossip][wire]") {
  const Bytes payload = to_bytes("\x03serf-event");
  const Bytes wire = encode_user_stream(payload);
  CHECK(wire == [&] {
    Bytes b = hex("0881aa557365724d73674c656e0b");
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
  }());
  auto back = decode_user_stream(body_of(wire));
  REQUIRE(back.ok());
  CHECK(Bytes(back->begin(), back->end()) == payload);
  CHECK(**stream_message_length(wire) == wire.size());
  CHECK(!stream_message_length(ByteView(wire).first(wire.size() - 1))->has_value());
  CHECK(!decode_user_stream(ByteView(wire).subspan(1, wire.size() - 2)).ok());
}

TEST_CASE("stream lengths for ping, ack, err, compress and encrypt", "[gossip][wire]") {
  for (const Bytes& m : {encode(Ping{1, "x", {}, 0, ""}), encode(Ack{1, {9}}), encode(ErrResp{"e"})}) {
    Bytes stream = m;
    stream.push_back(0x42);  // whatever follows is not part of the message
    CHECK(**stream_message_length(stream) == m.size());
  }
  const Bytes enc{10, 0, 0, 0, 3, 'a', 'b', 'c'};
  CHECK(**stream_message_length(enc) == 8);
  CHECK(!stream_message_length(ByteView(enc).first(7))->has_value());
  CHECK(!stream_message_length(Bytes{10, 0xff, 0xff, 0xff, 0xff}).ok());
  CHECK(!stream_message_length(Bytes{4, 0x80}).ok());  // alive is never sent on a stream
  CHECK(!stream_message_length(Bytes{})->has_value());
}

TEST_CASE("compound: layout, split, truncation as memberlist reports it", "[gossip][wire]") {
  const Bytes a{1, 2, 3}, b{4};
  const Bytes c = make_compound({a, b});
  CHECK(c == Bytes{7, 2, 0, 3, 0, 1, 1, 2, 3, 4});
  size_t truncated = 99;
  auto parts = split_compound(body_of(c), &truncated);
  REQUIRE(parts.ok());
  REQUIRE(parts->size() == 2);
  CHECK(Bytes((*parts)[0].begin(), (*parts)[0].end()) == a);
  CHECK(truncated == 0);
  auto cut = split_compound(ByteView(c).subspan(1, c.size() - 2), &truncated);
  REQUIRE(cut.ok());
  CHECK(cut->size() == 1);
  CHECK(truncated == 1);
  CHECK(!split_compound({}).ok());
  CHECK(!split_compound(Bytes{3, 0, 1}).ok());  // length table cut short
}

TEST_CASE("crc: IEEE checksum, wrapper checked, other packets pass", "[gossip][wire]") {
  CHECK(crc32_ieee(as_bytes("123456789")) == 0xcbf43926u);
  const Bytes msg = encode(Nack{1});
  Bytes wrapped = add_crc(msg);
  REQUIRE(wrapped.size() == msg.size() + 5);
  auto inner = check_crc(wrapped);
  REQUIRE(inner.ok());
  CHECK(Bytes(inner->begin(), inner->end()) == msg);
  wrapped.back() ^= 1;
  CHECK(check_crc(wrapped).status().is(Status::Code::corruption));
  auto plain = check_crc(msg);
  REQUIRE(plain.ok());
  CHECK(plain->size() == msg.size());
}

TEST_CASE("serf messages round-trip with sorted keys", "[gossip][wire][serf]") {
  SerfPushPull pp;
  pp.ltime = 10;
  pp.status_ltimes = {{"a", 3}, {"b", 4}};
  pp.left_members = {"c"};
  pp.event_ltime = 5;
  pp.events.push_back({4, {{"deploy", {1}}, {"x", {}}}});
  pp.query_ltime = 6;
  const Bytes wire_pp = encode_serf(pp);
  CHECK(wire_pp[0] == static_cast<uint8_t>(SerfMessageType::push_pull));
  CHECK(keys_sorted(body_of(wire_pp)));
  auto back_pp = decode_serf_push_pull(body_of(wire_pp));
  REQUIRE(back_pp.ok());
  CHECK((back_pp->ltime == 10 && back_pp->status_ltimes == pp.status_ltimes &&
         back_pp->left_members == pp.left_members && back_pp->event_ltime == 5 &&
         back_pp->query_ltime == 6));
  REQUIRE(back_pp->events.size() == 1);
  CHECK(back_pp->events[0].events.size() == 2);
  CHECK(encode_serf(*back_pp) == wire_pp);

  SerfQuery q;
  q.ltime = 1;
  q.id = 0xdeadbeef;
  q.addr = {127, 0, 0, 1};
  q.port = 7946;
  q.source_node = "a";
  q.filters = {encode_filter_nodes({"a", "b"}), encode_filter_tag({"role", "web.*"})};
  q.flags = kQueryFlagAck;
  q.relay_factor = 2;
  q.timeout_ns = 15'000'000'000;
  q.name = "whoami";
  q.payload = {1};
  const Bytes wire_q = encode_serf(q);
  CHECK(keys_sorted(body_of(wire_q)));
  auto back_q = decode_serf_query(body_of(wire_q));
  REQUIRE(back_q.ok());
  CHECK(encode_serf(*back_q) == wire_q);
  CHECK(*decode_filter_nodes(back_q->filters[0]) == std::vector<std::string>{"a", "b"});
  CHECK(decode_filter_tag(back_q->filters[1])->expr == "web.*");
  CHECK(!decode_filter_tag(back_q->filters[0]).ok());

  const SerfQueryResponse resp{1, 2, "b", 0, {7}};
  const Bytes conflict = encode_serf(resp, SerfMessageType::conflict_response);
  CHECK(conflict[0] == static_cast<uint8_t>(SerfMessageType::conflict_response));
  CHECK(encode_serf(*decode_serf_query_response(body_of(conflict))) == encode_serf(resp));

  const SerfUserEvent ev{3, "deploy", {1, 2}, true};
  CHECK(encode_serf(*decode_serf_user_event(body_of(encode_serf(ev)))) == encode_serf(ev));
  const SerfJoin join{8, "n"};
  CHECK(encode_serf(*decode_serf_join(body_of(encode_serf(join)))) == encode_serf(join));
  const SerfLeave leave{9, "n", true};
  CHECK(encode_serf(*decode_serf_leave(body_of(encode_serf(leave)))) == encode_serf(leave));
}

TEST_CASE("serf push-pull skips Go's nil event slots", "[gossip][wire][serf]") {
  // {Events: [nil, {LTime: 2, Events: nil}, nil]}
  const Bytes body = hex("81a64576656e747393c082a54c54696d6502a64576656e7473c0c0");
  auto pp = decode_serf_push_pull(body);
  REQUIRE(pp.ok());
  REQUIRE(pp->events.size() == 1);
  CHECK(pp->events[0].ltime == 2);
}

TEST_CASE("serf relay: UDPAddr header then the inner message", "[gossip][wire][serf]") {
  const Bytes inner = encode_serf(SerfQueryResponse{1, 2, "b", 0, {}});
  const SerfRelayHeader h{{127, 0, 0, 1}, 7946, "", "a"};
  const Bytes wire = encode_serf_relay(h, inner);
  CHECK(keys_sorted(body_of(wire)));
  auto back = decode_serf_relay(body_of(wire));
  REQUIRE(back.ok());
  CHECK((back->first.dest_ip == h.dest_ip && back->first.dest_port == 7946 && back->first.dest_name == "a"));
  CHECK(Bytes(back->second.begin(), back->second.end()) == inner);
  CHECK(!decode_serf_relay(ByteView(wire).subspan(1, wire.size() - 1 - inner.size())).ok());
}
