// Log drains (issue 11, point 4): every app's lines forwarded by the nodes that run it to a
// syslog server over TCP (RFC 5424 with octet counting) and UDP, and to an HTTP endpoint,
// each a real receiver on loopback in this test.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "node/http_server.h"
#include "tests/integration/apps_cluster.h"
#include "tests/support/process.h"

namespace shoal::test {
namespace {

// A socket receiver on 127.0.0.1 (TCP: every connection's bytes; UDP: every datagram),
// until destroyed.
class Receiver {
 public:
  explicit Receiver(int type) : type_(type) {
    fd_ = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (type == SOCK_STREAM) REQUIRE(::listen(fd_, 16) == 0);
    thread_ = std::thread([this] { run(); });
  }
  ~Receiver() {
    stop_ = true;
    thread_.join();
    for (int c : conns_) ::close(c);
    ::close(fd_);
  }
  int port() const { return port_; }
  std::string data() {
    std::lock_guard lock(mu_);
    return data_;
  }
  std::vector<std::string> datagrams() {
    std::lock_guard lock(mu_);
    return datagrams_;
  }

 private:
  void run() {
    char buf[65536];
    while (!stop_) {
      std::vector<pollfd> fds = {{fd_, POLLIN, 0}};
      for (int c : conns_) fds.push_back({c, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        if (type_ == SOCK_STREAM) {
          const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (c >= 0) conns_.push_back(c);
        } else {
          const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
          std::lock_guard lock(mu_);
          if (n > 0) datagrams_.emplace_back(buf, static_cast<size_t>(n));
        }
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        std::lock_guard lock(mu_);
        if (n > 0) data_.append(buf, static_cast<size_t>(n));
      }
    }
  }

  int type_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> conns_;
  std::mutex mu_;
  std::string data_;
  std::vector<std::string> datagrams_;
  std::thread thread_;
};

// Splits RFC 6587 octet-counted frames ("LEN SP MSG"); a malformed prefix ends the list
// with a "MALFORMED: ..." entry.
std::vector<std::string> frames(const std::string& stream) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < stream.size()) {
    const size_t sp = stream.find(' ', at);
    if (sp == std::string::npos) break;
    size_t len = 0;
    try {
      len = std::stoul(stream.substr(at, sp - at));
    } catch (...) {
      out.push_back("MALFORMED: " + stream.substr(at, 40));
      break;
    }
    if (sp + 1 + len > stream.size()) break;  // still arriving
    out.push_back(stream.substr(sp + 1, len));
    at = sp + 1 + len;
  }
  return out;
}

size_t count_with(const std::vector<std::string>& msgs, const std::string& text) {
  size_t n = 0;
  for (const auto& m : msgs) n += m.find(text) != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("log drains: an app's lines reach syslog over TCP and UDP and an HTTP endpoint",
          "[integration][logs][drains]") {
  Receiver tcp(SOCK_STREAM);
  Receiver udp(SOCK_DGRAM);
  std::mutex http_mu;
  std::string http_body;
  node::HttpRouter router;
  router.add("POST", "/ingest", [&](const node::HttpRequest& req, std::shared_ptr<node::HttpResponder> res) {
    {
      std::lock_guard lock(http_mu);
      http_body += req.body;
    }
    res->reply(204, "", "text/plain");
  });
  auto http = node::HttpServer::start(*gossip::Address::parse("127.0.0.1", 0), std::move(router));
  REQUIRE(http.ok());

  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];
  AgentProcess& n1 = *c.agents[1];
  const std::string tcp_url = "syslog+tcp://127.0.0.1:" + std::to_string(tcp.port());
  const std::string udp_url = "syslog+udp://127.0.0.1:" + std::to_string(udp.port());
  const std::string http_url =
      "http://127.0.0.1:" + std::to_string((*http)->address().port) + "/ingest";
  for (const auto& url : {tcp_url, udp_url, http_url}) {
    auto added = c.cli(n1, {"log-drains", "add", url});
    INFO(added.out << added.err);
    REQUIRE(added.exit_code == 0);
  }
  auto bad = c.cli(n1, {"log-drains", "add", "ftp://127.0.0.1:21"});
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("unknown scheme 'ftp'"));
  auto listed = c.cli(n0, {"log-drains"});
  CHECK_THAT(listed.out, Catch::Contains(tcp_url) && Catch::Contains(udp_url) &&
                             Catch::Contains(http_url));

  auto dep = c.cli(n0, {"deploy", (source_dir() / "examples/python-web").string(), "--app", "dr"});
  INFO(dep.out << dep.err);
  REQUIRE(dep.exit_code == 0);
  REQUIRE(wait_for(30s, [&] { return running(c.ps(n0, "dr")).size() == 2; }));
  // Lines written from now on reach every drain, from whichever node runs the instance.
  int sent = 0;
  const bool all_three = wait_for(60s, [&] {
    node::HttpExchange ex;
    ex.target = "/drain-needle-" + std::to_string(sent++);
    ex.timeout = 5s;
    ex.headers.emplace("Host", "dr.localhost");
    (void)node::http_request("127.0.0.1", n0.router_port(), ex);
    std::string body;
    {
      std::lock_guard lock(http_mu);
      body = http_body;
    }
    return count_with(frames(tcp.data()), "/drain-needle-") > 0 &&
           count_with(udp.datagrams(), "/drain-needle-") > 0 &&
           body.find("/drain-needle-") != std::string::npos;
  });
  const auto tcp_frames = frames(tcp.data());
  INFO("tcp: " << tcp.data().substr(0, 2000));
  REQUIRE(all_three);
  // RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG, user-level.
  bool formatted = false;
  for (const auto& m : tcp_frames) {
    if (m.find("/drain-needle-") == std::string::npos) continue;
    CHECK_THAT(m, Catch::StartsWith("<14>1 20") || Catch::StartsWith("<11>1 20"));
    CHECK_THAT(m, Catch::Contains(" dr web.") && Catch::Contains(" web - "));
    formatted = m.find(" n0 dr ") != std::string::npos || m.find(" n1 dr ") != std::string::npos ||
                m.find(" n2 dr ") != std::string::npos;
    if (!formatted) FAIL_CHECK("no node name as HOSTNAME in: " << m);
  }
  for (const auto& m : tcp_frames) CHECK(m.rfind("MALFORMED", 0) != 0);
  {
    std::lock_guard lock(http_mu);
    const auto first = json::parse(http_body.substr(0, http_body.find('\n')), nullptr, false);
    CHECK(first.value("app", "") == "dr");
    CHECK_FALSE(first.value("instance", "").empty());
  }

  // Removing a drain stops it; an unknown one is an error naming it.
  REQUIRE(c.cli(n0, {"log-drains", "remove", udp_url}).exit_code == 0);
  CHECK(c.cli(n0, {"log-drains"}).out.find(udp_url) == std::string::npos);
  auto unknown = c.cli(n0, {"log-drains", "remove", udp_url});
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::Contains("no log drain"));
}

}  // namespace shoal::test
