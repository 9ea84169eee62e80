// node/router/deadline.h
//
// Deadline: a timeout over one socket's operations that costs next to nothing to move.
//
// arm(d) only records now + d. One steady_timer waits for the earliest recorded time;
// when it fires and the deadline has passed, it cancels the socket's pending operations
// (they complete with operation_aborted) and expired() turns true until the next arm().
// Moving the deadline later, or disarm(), never touches the timer: a timer that fires
// early waits again for the deadline now recorded, or stops when disarmed. Only moving it
// earlier than the timer's wait resets the timer.
//
// Why: a keep-alive connection arms and disarms several times per request (idle wait,
// head, body, response). With a timer operation each time, every request paid for several
// timer-queue updates and a cancelled-wait handler each; this way a busy connection pays
// for one timer wait per timeout period.
//
// Contract: one thread (the socket's). watch() names the socket; the watched socket must
// outlive the watch (watch(nullptr) first). A timeout fires no earlier than its deadline,
// and no later than the deadline plus the timer's scheduling delay.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>

namespace shoal::node::router {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Deadline(const boost::asio::any_io_executor& executor);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  // The socket whose pending operations a timeout cancels (nullptr: none).
  void watch(boost::asio::ip::tcp::socket* socket);
  void arm(Clock::duration d);
  void disarm();
  // A timeout cancelled the socket's operations since the last arm().
  bool expired() const;

 private:
  struct State;
  static void wait(const std::shared_ptr<State>& s);
  std::shared_ptr<State> s_;  // shared with the pending timer handler
};

}  // namespace shoal::node::router
