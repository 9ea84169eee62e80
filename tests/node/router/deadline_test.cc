// Deadline (node/router/deadline.h): a timeout cancels the watched socket's pending read
// once its deadline has passed, and not when the deadline moved later, was disarmed, or
// the Deadline is gone. Real sockets on 127.0.0.1; every wait is bounded.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include <chrono>
#include <optional>

#include "node/router/deadline.h"

namespace shoal::test::router {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using node::router::Deadline;
using Clock = std::chrono::steady_clock;

// A connected pair on loopback and one pending read on `reader`, run on one io_context.
struct Pair {
  net::io_context io;
  tcp::socket reader{io}, writer{io};
  net::steady_timer write_timer{io};
  std::optional<boost::system::error_code> read_result;
  Clock::time_point read_done{};
  char byte = 0;

  Pair() {
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    writer.connect(acceptor.local_endpoint());
    reader = acceptor.accept();
  }
  void start_read() {
    reader.async_read_some(net::buffer(&byte, 1),
                           [this](boost::system::error_code ec, size_t) {
                             read_result = ec;
                             read_done = Clock::now();
                           });
  }
  // Writes one byte after `after` (to end the read normally).
  void write_after(Clock::duration after) {
    write_timer.expires_after(after);
    write_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) net::write(writer, net::buffer("x", 1));
    });
  }
  // Starts the read and runs until it is over (at most 5 s); how it ended.
  boost::system::error_code read() {
    start_read();
    const auto limit = Clock::now() + 5s;
    while (!read_result && Clock::now() < limit) io.run_one_for(50ms);
    REQUIRE(read_result);
    return *read_result;
  }
};

}  // namespace

TEST_CASE("deadline: an armed deadline cancels the pending read once it passes", "[router]") {
  Pair p;
  Deadline d(p.io.get_executor());
  d.watch(&p.reader);
  const auto t0 = Clock::now();
  d.arm(50ms);
  CHECK(p.read() == net::error::operation_aborted);
  CHECK(d.expired());
  CHECK(p.read_done - t0 >= 50ms);  // never before its time
  d.arm(1s);
  CHECK_FALSE(d.expired());  // a new arm starts afresh
  d.watch(nullptr);
}

TEST_CASE("deadline: moved later or disarmed, it lets the read finish", "[router]") {
  for (bool disarm : {false, true}) {
    Pair p;
    Deadline d(p.io.get_executor());
    d.watch(&p.reader);
    d.arm(30ms);  // the timer waits for this one...
    if (disarm) {
      d.disarm();
    } else {
      d.arm(2s);  // ...which no longer counts
    }
    p.write_after(150ms);
    CHECK_FALSE(p.read());
    CHECK_FALSE(d.expired());
    d.watch(nullptr);
  }
}

TEST_CASE("deadline: moved earlier, it fires at the earlier time", "[router]") {
  Pair p;
  Deadline d(p.io.get_executor());
  d.watch(&p.reader);
  d.arm(10s);
  d.arm(40ms);
  p.write_after(3s);  // would end the read, were the deadline still 10 s away
  const auto t0 = Clock::now();
  CHECK(p.read() == net::error::operation_aborted);
  CHECK(d.expired());
  CHECK(p.read_done - t0 < 3s);
  d.watch(nullptr);
}

TEST_CASE("deadline: a destroyed deadline cancels nothing", "[router]") {
  Pair p;
  {
    Deadline d(p.io.get_executor());
    d.watch(&p.reader);
    d.arm(20ms);
  }
  p.write_after(150ms);
  CHECK_FALSE(p.read());
}

}  // namespace shoal::test::router
