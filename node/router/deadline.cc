// node/router/deadline.cc
#include "node/router/deadline.h"

#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>

namespace shoal::node::router {

struct Deadline::State {
  explicit State(const boost::asio::any_io_executor& ex) : timer(ex) {}
  boost::asio::steady_timer timer;
  Clock::time_point deadline = Clock::time_point::max();  // max: disarmed
  Clock::time_point waiting_until{};                        // the pending wait's expiry
  bool waiting = false;  // a timer wait is pending
  bool expired = false;
  boost::asio::ip::tcp::socket* socket = nullptr;
};

Deadline::Deadline(const boost::asio::any_io_executor& executor)
    : s_(std::make_shared<State>(executor)) {}

// Disarmed and watching nothing: a timer completion already queued finds nothing to do.
Deadline::~Deadline() {
  s_->deadline = Clock::time_point::max();
  s_->socket = nullptr;
  s_->timer.cancel();
}

void Deadline::watch(boost::asio::ip::tcp::socket* socket) { s_->socket = socket; }

void Deadline::arm(Clock::duration d) {
  s_->deadline = Clock::now() + d;
  s_->expired = false;
  if (!s_->waiting || s_->waiting_until > s_->deadline) wait(s_);
}

void Deadline::disarm() { s_->deadline = Clock::time_point::max(); }

bool Deadline::expired() const { return s_->expired; }

void Deadline::wait(const std::shared_ptr<State>& s) {
  s->waiting = true;
  s->waiting_until = s->deadline;
  s->timer.expires_at(s->deadline);  // cancels a pending wait: its handler sees aborted
  s->timer.async_wait([s](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;  // replaced, or destroyed
    s->waiting = false;
    if (s->deadline == Clock::time_point::max()) return;  // disarmed, or destroyed
    if (Clock::now() < s->deadline) {  // moved later since this wait began
      wait(s);
      return;
    }
    s->expired = true;
    if (s->socket != nullptr) {
      boost::system::error_code ignored;
      s->socket->cancel(ignored);
    }
  });
}

}  // namespace shoal::node::router
