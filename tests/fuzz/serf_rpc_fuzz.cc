// libFuzzer target: arbitrary bytes through the Serf agent RPC request decoder
// (node/serf_rpc/codec.h), fed in two pieces split by the first byte. Built when SHOAL_FUZZ=ON.
//   build-fuzz/tests/fuzz/serf_rpc_fuzz -max_total_time=60
#include <cstdio>
#include <cstdlib>

#include "node/serf_rpc/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using shoal::node::serf_rpc::RequestDecoder;
  if (size == 0) return 0;
  const size_t cut = data[0] % size;
  RequestDecoder d(4096);
  d.feed({data + 1, cut > 0 ? cut - 1 : 0});
  for (int i = 0; i < 64; ++i) {
    auto r = d.next();
    if (!r.ok() || !r->has_value()) break;
  }
  d.feed({data + (cut > 0 ? cut : 1), size - (cut > 0 ? cut : 1)});
  for (int i = 0; i < 64; ++i) {
    auto r = d.next();
    if (!r.ok() || !r->has_value()) break;
  }
  if (d.buffered() > size) {
    std::fprintf(stderr, "serf_rpc_fuzz: buffered %zu > input %zu\n", d.buffered(), size);
    std::abort();
  }
  return 0;
}
