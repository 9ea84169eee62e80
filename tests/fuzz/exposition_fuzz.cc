// libFuzzer target: arbitrary bytes through the Prometheus text parser that reads apps' own
// metrics (node/exposition.h), then what re-exposing them writes, parsed again: an app's
// text must never crash the node, and the node's output must always parse. Built when
// SHOAL_FUZZ=ON.
//   build-fuzz/tests/fuzz/exposition_fuzz -max_total_time=60
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "node/app_metrics.h"
#include "node/exposition.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal::node;
  auto families = parse_exposition(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!families.ok()) return 0;
  std::vector<AppScrape> scrapes;
  scrapes.push_back({{"app", "web.1", 1, 1, "/metrics"}, std::move(families)});
  const std::string out = render_app_metrics(scrapes);
  auto again = parse_exposition(out, ExpositionLimits{.max_bytes = 64 << 20, .max_samples = 1 << 20});
  if (!again.ok()) {
    std::fprintf(stderr, "exposition_fuzz: re-exposed text does not parse: %s\n",
                 again.status().message().c_str());
    std::abort();
  }
  return 0;
}
