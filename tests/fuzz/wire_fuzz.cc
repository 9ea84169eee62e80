// libFuzzer target: arbitrary bytes through every gossip decoder (see
// tests/gossip/wire_fuzz_target.h for the properties checked). Built when SHOAL_FUZZ=ON.
//   build-fuzz/tests/fuzz/wire_fuzz -max_total_time=60 tests/gossip/testdata
#include <cstdio>
#include <cstdlib>

#include "tests/gossip/wire_fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string problem = shoal::gossip::fuzz::feed_all_decoders({data, size});
  if (!problem.empty()) {
    std::fprintf(stderr, "wire_fuzz: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
