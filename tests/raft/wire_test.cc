// The Raft wire format: every message kind round-trips, bad frames are refused with a
// named reason, and a bounded randomized run feeds garbage through the frame decoder.
#include <catch2/catch.hpp>

#include "base/rng.h"
#include "tests/raft/wire_fuzz_target.h"

namespace shoal::raft {
namespace {

std::vector<Envelope> every_kind() {
  std::vector<Envelope> out;
  auto hdr = [](auto m, Term t) {
    m.term = t, m.from = "n1", m.to = "n2";
    return m;
  };
  RequestVote rv = hdr(RequestVote{}, 5);
  rv.last = {4, 100}, rv.pre_vote = true, rv.transfer = true;
  out.push_back({1, rv});
  RequestVoteResponse rvr = hdr(RequestVoteResponse{}, 5);
  rvr.granted = true;
  out.push_back({2, rvr});
  AppendEntries ae = hdr(AppendEntries{}, 7);
  ae.prev = {6, 41}, ae.commit = 40;
  ae.entries = {{7, 42, EntryType::noop, {}}, {7, 43, EntryType::normal, Bytes(300, 0xab)},
                {7, 44, EntryType::config_change, {1, 2, 3}}};
  out.push_back({1ull << 40, ae});
  AppendEntriesResponse aer = hdr(AppendEntriesResponse{}, 7);
  aer.success = false, aer.match = 3, aer.rejected = 41, aer.hint_index = 30, aer.hint_term = 6;
  out.push_back({3, aer});
  Heartbeat hb = hdr(Heartbeat{}, 9);
  hb.commit = 1000000, hb.read_seq = 1ull << 50;
  out.push_back({4, hb});
  HeartbeatResponse hbr = hdr(HeartbeatResponse{}, 9);
  hbr.read_seq = 12, hbr.last_index = 77;
  out.push_back({4, hbr});
  InstallSnapshot is = hdr(InstallSnapshot{}, 11);
  is.meta = {500, 10, {{"a", "b", "c"}, {"d"}}};
  is.offset = 65536, is.total_bytes = 70000, is.chunk = Bytes(70000 - 65536, 1), is.done = true;
  out.push_back({5, is});
  InstallSnapshotResponse isr = hdr(InstallSnapshotResponse{}, 11);
  isr.snapshot_index = 500, isr.next_offset = 70000, isr.installed = true;
  out.push_back({5, isr});
  out.push_back({6, hdr(TimeoutNow{}, 12)});
  return out;
}

TEST_CASE("wire_every_message_kind_round_trips", "[raft][wire]") {
  const auto batch = every_kind();
  const Bytes payload = encode_batch(batch);
  auto back = decode_batch(payload, "n1", "n2");
  REQUIRE(back.ok());
  REQUIRE(back->size() == batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    CHECK((*back)[i].group == batch[i].group);
    CHECK(describe((*back)[i].message) == describe(batch[i].message));
  }
  CHECK(encode_batch(*back) == payload);
}

TEST_CASE("wire_hello_round_trips_and_checks_version_and_magic", "[raft][wire]") {
  auto h = decode_hello(encode_hello({kWireVersion, "node-1"}));
  REQUIRE(h.ok());
  CHECK(h->node == "node-1");
  auto wrong = decode_hello(encode_hello({kWireVersion + 1, "node-1"}));
  CHECK(wrong.status().message().find("version") != std::string::npos);
  CHECK_FALSE(decode_hello(encode_hello({kWireVersion, ""})).ok());
  CHECK_FALSE(decode_hello(encode_batch({})).ok());
}

TEST_CASE("wire_bad_batches_are_refused_with_a_reason", "[raft][wire]") {
  Bytes good = encode_batch(every_kind());
  // Truncated anywhere: refused.
  for (size_t cut = 0; cut < good.size(); cut += 7) {
    auto r = decode_batch(ByteView(good).first(cut), "x", "y");
    CHECK_FALSE(r.ok());
  }
  // Trailing bytes.
  Bytes trailing = good;
  trailing.push_back(0);
  CHECK(decode_batch(trailing, "x", "y").status().message().find("trailing") != std::string::npos);
  // An array length far past the bytes present does not allocate; it is refused.
  Bytes huge = {0x92, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff};
  CHECK(decode_batch(huge, "x", "y").status().message().find("elements") != std::string::npos);
  // An unknown message kind.
  Bytes unknown = {0x92, 0x01, 0x91, 0x93, 0x01, 0x63, 0x01};
  CHECK_FALSE(decode_batch(unknown, "x", "y").ok());
}

TEST_CASE("wire_frame_decoder_reassembles_and_bounds_frames", "[raft][wire]") {
  Bytes stream;
  append_frame(stream, encode_hello({kWireVersion, "a"}));
  append_frame(stream, encode_batch(every_kind()));
  append_frame(stream, {});
  FrameDecoder d;
  std::vector<Bytes> frames;
  for (uint8_t b : stream) {  // one byte at a time: the worst split
    d.feed(ByteView(&b, 1));
    for (;;) {
      auto f = d.next();
      REQUIRE(f.ok());
      if (!*f) break;
      frames.push_back(std::move(**f));
    }
  }
  REQUIRE(frames.size() == 3);
  CHECK(decode_hello(frames[0])->node == "a");
  CHECK(decode_batch(frames[1], "a", "b")->size() == every_kind().size());
  CHECK(frames[2].empty());

  FrameDecoder small(16);
  Bytes big;
  append_frame(big, Bytes(17, 0));
  small.feed(big);
  auto r = small.next();
  CHECK_FALSE(r.ok());
  CHECK(r.status().message().find("exceeds") != std::string::npos);
  small.feed(Bytes{0, 0, 0, 0});
  CHECK_FALSE(small.next().ok());  // the error sticks: the connection must close
}

TEST_CASE("wire_randomized_garbage_never_crashes_the_decoders", "[raft][wire][fuzz]") {
  Rng rng(20261126);
  const Bytes seed_batch = encode_batch(every_kind());
  Bytes seed_stream;
  append_frame(seed_stream, encode_hello({kWireVersion, "peer"}));
  append_frame(seed_stream, seed_batch);
  for (int i = 0; i < 20000; ++i) {
    Bytes input;
    if (rng.uniform(2) == 0) {
      input.resize(rng.uniform(64));
      for (auto& b : input) b = static_cast<uint8_t>(rng.next());
    } else {
      input = rng.uniform(2) ? seed_batch : seed_stream;
      const uint64_t flips = 1 + rng.uniform(4);
      for (uint64_t k = 0; k < flips; ++k) {
        input[rng.uniform(input.size())] = static_cast<uint8_t>(rng.next());
      }
      if (rng.uniform(4) == 0) input.resize(rng.uniform(input.size()));
    }
    const std::string problem = fuzz::feed_wire_decoders(input);
    INFO("iteration " << i);
    REQUIRE(problem.empty());
  }
}

}  // namespace
}  // namespace shoal::raft
