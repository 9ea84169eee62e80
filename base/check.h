// base/check.h — SHOAL_CHECK: an assertion that stays on in release builds.
// For invariants whose violation means the state can no longer be trusted (TigerBeetle
// style): better to stop loudly than to gossip or commit from a corrupt state.
#pragma once

#include <cstdio>
#include <cstdlib>

#define SHOAL_CHECK(cond, msg)                                                        \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: invariant violated: %s (%s)\n", __FILE__, __LINE__, \
                   #cond, msg);                                                       \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)
