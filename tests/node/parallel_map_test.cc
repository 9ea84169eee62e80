// node/parallel_map.h: every item once, results in order, never more calls at once than
// the workers asked for.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "node/parallel_map.h"

using shoal::node::parallel_map;

TEST_CASE("parallel_map: results in the items' order, each item once", "[parallel_map]") {
  std::vector<int> items;
  for (int i = 0; i < 100; ++i) items.push_back(i);
  std::atomic<int> calls{0};
  auto out = parallel_map(items, 8, [&](int x) {
    ++calls;
    return std::to_string(x * 2);
  });
  REQUIRE(out.size() == 100);
  CHECK(calls == 100);
  for (int i = 0; i < 100; ++i) CHECK(out[i] == std::to_string(i * 2));
}

TEST_CASE("parallel_map: at most `workers` calls run at once", "[parallel_map]") {
  std::vector<int> items(40, 0);
  std::atomic<int> now{0}, peak{0};
  parallel_map(items, 4, [&](int) {
    const int n = ++now;
    int p = peak.load();
    while (n > p && !peak.compare_exchange_weak(p, n)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    --now;
    return 0;
  });
  CHECK(peak <= 4);
  CHECK(peak >= 2);  // it does run them side by side
}

TEST_CASE("parallel_map: no items, and zero workers meaning one", "[parallel_map]") {
  const std::vector<int> none;
  CHECK(parallel_map(none, 16, [](int x) { return x; }).empty());
  const std::vector<int> three = {1, 2, 3};
  CHECK(parallel_map(three, 0, [](int x) { return x + 1; }) == std::vector<int>{2, 3, 4});
}
