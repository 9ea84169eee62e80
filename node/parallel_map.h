// node/parallel_map.h
//
// parallel_map: fn(item) for every item, on at most `workers` threads at once, results in
// the items' order. For fan-outs to every node of a cluster: one thread per node is fine
// for five nodes and not for five hundred.
//
// Contract: blocks until every call returned; fn must not throw (it runs on other threads
// and returns its failures as values, e.g. a Result).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <future>
#include <optional>
#include <type_traits>
#include <vector>

namespace shoal::node {

template <typename T, typename F>
auto parallel_map(const std::vector<T>& items, size_t workers, F fn)
    -> std::vector<std::invoke_result_t<F&, const T&>> {
  using R = std::invoke_result_t<F&, const T&>;
  std::vector<std::optional<R>> slots(items.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < items.size(); i = next++) slots[i].emplace(fn(items[i]));
  };
  std::vector<std::future<void>> running;
  const size_t n = std::min(std::max<size_t>(workers, 1), items.size());
  for (size_t w = 1; w < n; ++w) running.push_back(std::async(std::launch::async, work));
  if (n > 0) work();  // this thread is one of the workers
  for (auto& f : running) f.get();
  std::vector<R> out;
  out.reserve(items.size());
  for (auto& s : slots) out.push_back(std::move(*s));
  return out;
}

}  // namespace shoal::node
