// libFuzzer target: arbitrary bytes through every gossip decoder, the encrypted framing,
// and a running core holding a keyring (properties: tests/gossip/wire_fuzz_target.h,
// crypto_fuzz_target.h, encrypted_node_fuzz_target.h). Built when SHOAL_FUZZ=ON.
//   build-fuzz/tests/fuzz/wire_fuzz -max_total_time=60 tests/gossip/testdata
#include <cstdio>
#include <cstdlib>

#include "tests/gossip/crypto_fuzz_target.h"
#include "tests/gossip/encrypted_node_fuzz_target.h"
#include "tests/gossip/wire_fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string problem = shoal::gossip::fuzz::feed_all_decoders({data, size});
  if (problem.empty()) problem = shoal::gossip::fuzz::feed_encrypted_framing({data, size});
  if (problem.empty()) problem = shoal::gossip::fuzz::feed_encrypted_node({data, size});
  if (!problem.empty()) {
    std::fprintf(stderr, "wire_fuzz: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
