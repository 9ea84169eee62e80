// libFuzzer target: arbitrary bytes through the Raft frame, hello and batch decoders (see
// tests/raft/wire_fuzz_target.h). Built when SHOAL_FUZZ=ON.
//   build-fuzz/tests/fuzz/raft_wire_fuzz -max_total_time=60
#include <cstdio>
#include <cstdlib>

#include "tests/raft/wire_fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string problem = shoal::raft::fuzz::feed_wire_decoders({data, size});
  if (!problem.empty()) {
    std::fprintf(stderr, "raft_wire_fuzz: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
