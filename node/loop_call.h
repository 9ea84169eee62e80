// node/loop_call.h
//
// call_on_loop: run a piece of work on the agent's loop thread from any other thread and
// wait, bounded, for its answer. This is how HTTP handlers reach the gossip core, which
// lives on that one thread and must not be touched from anywhere else.
//
// Contract:
//  - `work(complete)` runs on the io_context's thread. It must call complete(result) at most
//    once, now or later (e.g. when a JoinDone arrives); extra calls are ignored.
//  - The caller waits at most `timeout`, then gets Status::timeout. If the work is dropped
//    without completing (the loop stopped), the caller gets Status::unavailable at once.
//  - If `*stopped` is set when the work would start, it completes with unavailable instead:
//    nothing touches the core once the agent is shutting down.
//  - REQUIRES: not called on the loop thread itself (it would wait for itself).
#pragma once

#include <atomic>
#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <cassert>
#include <functional>
#include <future>
#include <memory>

#include "base/status.h"
#include "base/time.h"

namespace shoal::node {

template <typename T>
using Completion = std::function<void(Result<T>)>;

template <typename T>
Result<T> call_on_loop(boost::asio::io_context& io, const std::atomic<bool>& stopped,
                       Duration timeout, std::function<void(Completion<T>)> work) {
  assert(!io.get_executor().running_in_this_thread());
  if (stopped.load()) return Status::unavailable("the agent is shutting down");
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  auto once = std::make_shared<std::atomic<bool>>(false);
  Completion<T> complete = [promise, once](Result<T> r) {
    if (!once->exchange(true)) promise->set_value(std::move(r));
  };
  promise.reset();  // only the completion owns it now: dropping it breaks the promise
  boost::asio::post(io, [&stopped, work = std::move(work), complete = std::move(complete)]() {
    if (stopped.load()) {
      complete(Status::unavailable("the agent is shutting down"));
      return;
    }
    work(complete);
  });
  if (future.wait_for(timeout) != std::future_status::ready) {
    return Status::timeout("the agent did not answer within " +
                           std::to_string(to_millis(timeout)) + " ms");
  }
  try {
    return future.get();
  } catch (const std::future_error&) {
    return Status::unavailable("the agent stopped before answering");
  }
}

}  // namespace shoal::node
