// A bounded, seeded fuzz run of every gossip decoder inside ctest: valid encodings are
// mutated (truncated, bit-flipped, given huge lengths or wrong type bytes) and fed
// through feed_all_decoders(). Deterministic: a failure names its iteration, and the
// same seed replays it. The libFuzzer target in tests/fuzz explores further.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include "base/rng.h"
#include "tests/gossip/wire_fuzz_target.h"

using namespace shoal;
using namespace shoal::gossip;

namespace {

std::vector<Bytes> seed_corpus() {
  std::vector<Bytes> corpus;
  corpus.push_back(encode(Ping{1, "n", {127, 0, 0, 1}, 7946, "a"}));
  corpus.push_back(encode(IndirectPing{2, {127, 0, 0, 2}, 7946, "b", true, {127, 0, 0, 1}, 7, "a"}));
  corpus.push_back(encode(Ack{3, {1, 2, 3}}));
  corpus.push_back(encode(Nack{4}));
  corpus.push_back(encode(ErrResp{"bad"}));
  corpus.push_back(encode(Suspect{5, "n", "a"}));
  corpus.push_back(encode(Alive{6, "n", {127, 0, 0, 1}, 7946, {0xff, 0x80}, {1, 5, 2, 2, 5, 4}}));
  corpus.push_back(encode(Dead{7, "n", "n"}));
  PushPull pp{true, {{"a", {127, 0, 0, 1}, 7946, {0xff, 0x80}, 1, NodeStateType::suspect, {1, 5, 2, 2, 5, 4}}}, {2, 0x80}};
  corpus.push_back(encode_push_pull(pp));
  corpus.push_back(encode_user_stream(encode_serf(SerfJoin{1, "n"})));
  SerfPushPull spp{3, {{"a", 1}}, {"gone"}, 4, {{2, {{"e", {1}}}}}, 5};
  corpus.push_back(encode_serf(spp));
  corpus.push_back(encode_serf(SerfLeave{1, "n", true}));
  corpus.push_back(encode_serf(SerfUserEvent{1, "deploy", {9}, true}));
  SerfQuery q{1, 2, {127, 0, 0, 1}, 7946, "a", {encode_filter_tag({"role", "web"}), encode_filter_nodes({"a"})},
              kQueryFlagAck, 1, 1000, "q", {1}};
  corpus.push_back(encode_serf(q));
  corpus.push_back(encode_serf(SerfQueryResponse{1, 2, "b", 1, {3}}));
  corpus.push_back(encode_serf_relay({{127, 0, 0, 1}, 7946, "", "b"}, encode_serf(SerfQueryResponse{})));
  corpus.push_back(encode_tags({{"role", "web"}}).value());
  corpus.push_back(make_compound({encode(Nack{1}), encode(Suspect{1, "x", "y"})}));
  corpus.push_back(add_crc(encode(Ping{9, "x", {}, 0, ""})));
  corpus.push_back(encode_compress(encode_push_pull(pp)));
  for (const char* name : {"tcp_00.bin", "tcp_01.bin", "udp_00.bin", "udp_12.bin"}) {
    std::ifstream in(std::string(SHOAL_SOURCE_DIR) + "/tests/gossip/testdata/" + name, std::ios::binary);
    Bytes b(std::istreambuf_iterator<char>(in), {});
    if (!b.empty()) corpus.push_back(std::move(b));
  }
  return corpus;
}

void mutate(Bytes& b, Rng& rng) {
  static const uint8_t kTypeBytes[] = {0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xca, 0xcf, 0xd3, 0xd9, 0xdb,
                                       0xdc, 0xdd, 0xde, 0xdf, 0x80, 0x90, 0xa0, 0xff, 0x00, 0x7f};
  static const Bytes kHuge[] = {{0xdb, 0xff, 0xff, 0xff, 0xff}, {0xdd, 0x7f, 0xff, 0xff, 0xff},
                                {0xdf, 0xff, 0xff, 0xff, 0xff}, {0xce, 0xff, 0xff, 0xff, 0xff},
                                {0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                                {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, {0xff, 0xff}};
  const int rounds = 1 + static_cast<int>(rng.uniform(4));
  for (int i = 0; i < rounds; ++i) {
    const size_t at = b.empty() ? 0 : rng.uniform(b.size());
    switch (rng.uniform(7)) {
      case 0:  // truncate
        b.resize(at);
        break;
      case 1:  // flip a bit
        if (!b.empty()) b[at] ^= static_cast<uint8_t>(1u << rng.uniform(8));
        break;
      case 2:  // a random byte
        if (!b.empty()) b[at] = static_cast<uint8_t>(rng.next());
        break;
      case 3:  // a wrong msgpack type byte
        if (!b.empty()) b[at] = kTypeBytes[rng.uniform(std::size(kTypeBytes))];
        break;
      case 4: {  // a huge length or count, overwriting what was there
        const Bytes& h = kHuge[rng.uniform(std::size(kHuge))];
        for (size_t k = 0; k < h.size() && at + k < b.size(); ++k) b[at + k] = h[k];
        break;
      }
      case 5: {  // duplicate a slice (repeated keys, longer arrays)
        if (b.empty()) break;
        const size_t len = 1 + rng.uniform(std::min<size_t>(16, b.size() - at));
        Bytes slice(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + len));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), slice.begin(), slice.end());
        break;
      }
      default:  // random tail
        for (uint64_t k = rng.uniform(8); k > 0; --k) b.push_back(static_cast<uint8_t>(rng.next()));
        break;
    }
  }
}

}  // namespace

TEST_CASE("fuzz: seeded mutations of valid messages never crash a decoder", "[gossip][wire][fuzz]") {
  const std::vector<Bytes> corpus = seed_corpus();
  REQUIRE(corpus.size() > 20);
  for (const Bytes& valid : corpus) REQUIRE(fuzz::feed_all_decoders(valid).empty());
  Rng rng(20240611);
  constexpr int kIterations = 200000;
  for (int i = 0; i < kIterations; ++i) {
    Bytes input = corpus[rng.uniform(corpus.size())];
    mutate(input, rng);
    std::string problem;
    try {
      problem = fuzz::feed_all_decoders(input);
    } catch (const std::exception& e) {
      problem = std::string("exception escaped: ") + e.what();
    }
    if (!problem.empty()) FAIL("iteration " << i << ": " << problem);
  }
}
