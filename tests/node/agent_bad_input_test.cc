// A real agent fed garbage on its gossip ports: it drops it, counts it, and stays healthy
// (DESIGN principle 6). The decoders themselves are fuzzed in tests/gossip.
#include <catch2/catch.hpp>

#include <random>

#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::test;

namespace {

void send_udp(int port, const std::string& data) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(static_cast<uint16_t>(port));
  ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  ::close(fd);
}

// Connects, writes `data`, optionally keeps the connection open for `hold`, then closes.
void send_tcp(int port, const std::string& data, std::chrono::milliseconds hold = 0ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  if (!data.empty()) (void)::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
  if (hold > 0ms) std::this_thread::sleep_for(hold);
  ::close(fd);
}

}  // namespace

TEST_CASE("agent: garbage on the gossip ports is dropped, the agent stays up",
          "[node][agent][process]") {
  auto a = AgentProcess::start("sturdy");
  {
    INFO(a->log());
    REQUIRE(a->wait_healthy(15s));
  }
  std::mt19937 gen(42);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (auto& ch : s) ch = static_cast<char>(gen() & 0xff);
    return s;
  };
  for (int i = 0; i < 200; ++i) send_udp(a->gossip_port(), random_bytes(1 + gen() % 1400));
  send_udp(a->gossip_port(), std::string(1, '\0'));  // a ping type byte and nothing else
  for (int i = 0; i < 20; ++i) send_tcp(a->gossip_port(), random_bytes(1 + gen() % 4096));
  send_tcp(a->gossip_port(), "", 0ms);                   // connect, say nothing, leave
  send_tcp(a->gossip_port(), std::string(1, '\x06'), 1500ms);  // half a message, then stall
                                                               // past the 1 s TCP timeout

  INFO(a->log());
  REQUIRE(a->wait_healthy(5s));
  auto self = a->client().call("GET", "/v1/agent/self");
  REQUIRE(self.ok());
  CHECK((*self)["stats"]["packets_dropped"].get<uint64_t>() > 0);
  CHECK((*self)["status"] == "alive");
  CHECK(a->terminate(20s) == 0);
}
