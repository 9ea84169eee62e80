#include <algorithm>
#include <cmath>

#include "simulations/scenario.h"

namespace shoal::sim {

std::vector<size_t> NodeSelector::resolve(size_t n, const std::vector<size_t>& exclude, Rng& rng,
                                          const std::function<bool(size_t)>& eligible) const {
  std::vector<size_t> out;
  auto excluded = [&](size_t i) {
    return std::find(exclude.begin(), exclude.end(), i) != exclude.end();
  };
  switch (kind) {
    case Kind::list:
      for (int64_t i : indices) {
        const size_t idx = i < 0 ? size_t(int64_t(n) + i) : size_t(i);
        if (idx < n && std::find(out.begin(), out.end(), idx) == out.end()) out.push_back(idx);
      }
      return out;
    case Kind::all:
    case Kind::rest:
      for (size_t i = 0; i < n; ++i) {
        if (kind == Kind::all || !excluded(i)) out.push_back(i);
      }
      return out;
    case Kind::random:
    case Kind::fraction: {
      std::vector<size_t> pool;
      for (size_t i = 0; i < n; ++i) {
        if (!excluded(i) && (!eligible || eligible(i))) pool.push_back(i);
      }
      size_t want = kind == Kind::random ? size_t(count)
                                         : size_t(std::llround(fraction * double(n)));
      want = std::min(want, pool.size());
      for (size_t k = 0; k < want; ++k) std::swap(pool[k], pool[k + rng.uniform(pool.size() - k)]);
      pool.resize(want);
      std::sort(pool.begin(), pool.end());
      return pool;
    }
  }
  return out;
}

}  // namespace shoal::sim
