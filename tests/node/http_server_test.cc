// Tests of node/http_server (router, responder, streaming, keep-alive) through the real
// client (node/http_client) and raw sockets on loopback.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "node/http_client.h"
#include "node/http_file_body.h"
#include "node/http_server.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::node;

namespace {

struct Server {
  explicit Server(HttpRouter router) {
    auto addr = *gossip::Address::parse("127.0.0.1", 0);
    auto started = HttpServer::start(addr, std::move(router));
    REQUIRE(started.ok());
    server = std::move(*started);
    port = server->address().port;
    REQUIRE(port != 0);
  }
  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    HttpExchange ex;
    ex.method = method;
    ex.target = target;
    ex.body = body;
    ex.timeout = std::chrono::seconds(5);
    auto r = http_request("127.0.0.1", port, ex);
    if (!r.ok()) FAIL(method + " " + target + ": " + r.status().to_string());
    return *r;
  }
  std::unique_ptr<HttpServer> server;
  int port = 0;
};

// A raw client for what http_request does not do: pipelining, garbage, hang-ups.
struct RawSocket {
  explicit RawSocket(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawSocket() {
    if (fd >= 0) ::close(fd);
  }
  void send(const std::string& s) { REQUIRE(::write(fd, s.data(), s.size()) == ssize_t(s.size())); }
  // Reads until `needle` has been seen `count` times, the peer closes, or 5 s pass.
  std::string read_until(const std::string& needle, int count = 1) {
    std::string out;
    char buf[4096];
    while (true) {
      int seen = 0;
      for (size_t p = out.find(needle); p != std::string::npos; p = out.find(needle, p + 1)) {
        ++seen;
      }
      if (seen >= count) return out;
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n <= 0) return out;
      out.append(buf, size_t(n));
    }
  }
  int fd = -1;
};

HttpHandler echo_handler() {
  return [](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
    std::string q;
    for (const auto& [k, v] : req.query) q += k + "=" + v + ";";
    std::string p;
    for (const auto& [k, v] : req.params) p += k + "=" + v + ";";
    res->reply(200, req.method + " " + req.path + " q:" + q + " p:" + p + " b:" + req.body,
               "text/plain");
  };
}

}  // namespace

TEST_CASE("router: literal and {param} routes, 404 and 405", "[node][http]") {
  HttpRouter router;
  router.add("GET", "/v1/apps", echo_handler());
  router.add("GET", "/v1/apps/{app}/ps", echo_handler());
  router.add("POST", "/v1/apps/{app}/ps", echo_handler());
  router.add("GET", "/git/{app}.git/info/refs", echo_handler());
  Server s(std::move(router));

  // {param}SUFFIX: the segment must end with the suffix; the parameter is the rest.
  CHECK(s.call("GET", "/git/web.git/info/refs").body == "GET /git/web.git/info/refs q: p:app=web; b:");
  CHECK(s.call("GET", "/git/web/info/refs").status == 404);
  CHECK(s.call("GET", "/git/.git/info/refs").status == 404);  // nothing before the suffix
  CHECK(s.call("GET", "/git/web.gitx/info/refs").status == 404);

  CHECK(s.call("GET", "/v1/apps").body == "GET /v1/apps q: p: b:");
  auto r = s.call("GET", "/v1/apps/my%20app/ps?x=1&y=a+b&y=%2F");
  CHECK(r.status == 200);
  CHECK(r.body == "GET /v1/apps/my app/ps q:x=1;y=a b;y=/; p:app=my app; b:");
  CHECK(s.call("POST", "/v1/apps/a/ps", "hello").body == "POST /v1/apps/a/ps q: p:app=a; b:hello");

  auto missing = s.call("GET", "/v1/apps/a");
  CHECK(missing.status == 404);
  CHECK_THAT(missing.body, Catch::Contains("no such endpoint: GET /v1/apps/a"));
  CHECK(s.call("GET", "/v1/apps/").status == 404);  // a trailing slash is not the same path
  CHECK(s.call("GET", "/v1/apps//ps").status == 404);  // a parameter is never empty

  auto wrong = s.call("DELETE", "/v1/apps/a/ps");
  CHECK(wrong.status == 405);
  CHECK(wrong.header("Allow") == "GET, POST");
  CHECK(wrong.header("content-type") == "application/json");

  auto bad = s.call("GET", "/v1/apps?x=%zz");
  CHECK(bad.status == 400);
  CHECK_THAT(bad.body, Catch::Contains("percent-escape"));
}

TEST_CASE("body limits are per route, 100-continue is answered", "[node][http]") {
  HttpRouter router;
  router.add("POST", "/small", echo_handler());
  router.add("POST", "/big", [](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
    res->reply(200, std::to_string(req.body.size()), "text/plain");
  }, RouteOptions{.body_limit = 4 * 1024 * 1024});
  Server s(std::move(router));

  auto big = s.call("POST", "/big", std::string(3 * 1024 * 1024, 'x'));
  CHECK(big.status == 200);
  CHECK(big.body == std::to_string(3 * 1024 * 1024));
  auto refused = s.call("POST", "/small", std::string(kDefaultHttpBodyLimit + 1, 'x'));
  CHECK(refused.status == 413);
  CHECK_THAT(refused.body, Catch::Contains("larger than"));

  RawSocket sock(s.port);
  sock.send("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  CHECK_THAT(sock.read_until("\r\n\r\n"), Catch::StartsWith("HTTP/1.1 100 Continue"));
  sock.send("hello");
  CHECK_THAT(sock.read_until("b:hello"), Catch::Contains("200 OK"));
}

TEST_CASE("malformed requests get a JSON 400 and the connection closes", "[node][http]") {
  HttpRouter router;
  router.add("GET", "/x", echo_handler());
  Server s(std::move(router));
  RawSocket sock(s.port);
  sock.send("NOT HTTP AT ALL\r\n\r\n");
  auto answer = sock.read_until("\n}");  // until the peer closes
  CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 400"));
  CHECK_THAT(answer, Catch::Contains("malformed HTTP request"));
  // The server is still fine for everyone else.
  CHECK(s.call("GET", "/x").status == 200);
}

TEST_CASE("pipelined requests are answered in order", "[node][http]") {
  HttpRouter router;
  std::atomic<int> n{0};
  router.add("GET", "/slow", [&](const HttpRequest&, std::shared_ptr<HttpResponder> res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    res->reply(200, "slow-" + std::to_string(++n), "text/plain");
  });
  router.add("GET", "/fast", [&](const HttpRequest&, std::shared_ptr<HttpResponder> res) {
    res->reply(200, "fast-" + std::to_string(++n), "text/plain");
  });
  Server s(std::move(router));
  RawSocket sock(s.port);
  sock.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
            "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto all = sock.read_until("slow-3");
  auto a = all.find("slow-1"), b = all.find("fast-2"), c = all.find("slow-3");
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  REQUIRE(c != std::string::npos);
  CHECK(a < b);
  CHECK(b < c);
}

TEST_CASE("streams: chunks arrive as written, a hang-up is noticed", "[node][http]") {
  std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<HttpResponder> held;
  bool closed_seen = false;
  HttpRouter router;
  router.add("GET", "/stream", [&](const HttpRequest&, std::shared_ptr<HttpResponder> res) {
    res->start_stream(200, "text/event-stream");
    res->on_close([&] {
      std::lock_guard lock(mu);
      closed_seen = true;
      cv.notify_all();
    });
    std::lock_guard lock(mu);
    held = res;
    cv.notify_all();
  });
  Server s(std::move(router));

  std::vector<std::string> pieces;
  std::thread client([&] {
    HttpExchange ex;
    ex.target = "/stream";
    ex.timeout = std::chrono::seconds(5);
    ex.on_body = [&](std::string_view piece) {
      pieces.emplace_back(piece);
      return pieces.size() < 3;  // hang up after the third piece
    };
    auto r = http_request("127.0.0.1", s.port, ex);
    INFO(r.status().to_string());
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->header("Content-Type") == "text/event-stream");
  });
  std::shared_ptr<HttpResponder> res;
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return held != nullptr; }));
    res = held;
  }
  // One chunk at a time, each seen by the client before the next is written.
  for (int i = 0; i < 3; ++i) {
    CHECK(res->write("data: " + std::to_string(i) + "\n\n"));
    for (int t = 0; t < 500 && pieces.size() <= size_t(i); ++t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  client.join();
  REQUIRE(pieces.size() == 3);
  CHECK(pieces[0] == "data: 0\n\n");
  CHECK(pieces[2] == "data: 2\n\n");
  {
    std::unique_lock lock(mu);
    CHECK(cv.wait_for(lock, std::chrono::seconds(5), [&] { return closed_seen; }));
  }
  CHECK(res->closed());
  CHECK_FALSE(res->write("more"));
}

TEST_CASE("a stream that ends is a complete chunked response", "[node][http]") {
  HttpRouter router;
  // The writers are joined before the test ends: a detached one could still hold its
  // responder (and so the server) when the process exits, which LeakSanitizer reports.
  struct Writers {
    std::mutex mu;
    std::vector<std::thread> threads;
    ~Writers() {
      for (auto& t : threads) t.join();
    }
  } writers;
  router.add("POST", "/q", [&writers](const HttpRequest&, std::shared_ptr<HttpResponder> res) {
    std::lock_guard lock(writers.mu);
    writers.threads.emplace_back([res] {
      res->start_stream(200, "application/x-ndjson");
      for (int i = 0; i < 5; ++i) res->write("{\"n\":" + std::to_string(i) + "}\n");
      res->end();
      CHECK_FALSE(res->write("late"));
    });
  });
  Server s(std::move(router));
  std::string body;
  HttpExchange ex;
  ex.method = "POST";
  ex.target = "/q";
  ex.on_body = [&](std::string_view p) {
    body += p;
    return true;
  };
  auto r = http_request("127.0.0.1", s.port, ex);
  REQUIRE(r.ok());
  CHECK(body == "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
  // Without on_body the same stream arrives as one body.
  ex.on_body = nullptr;
  auto whole = http_request("127.0.0.1", s.port, ex);
  REQUIRE(whole.ok());
  CHECK(whole->body == body);
}

TEST_CASE("a file body: its range, piece by piece, HEAD, a short file cuts the connection",
          "[node][http]") {
  // Larger than a piece (http_file_body.h), and not a multiple of one.
  std::string content(3 * kFileBodyPiece + 1234, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 131 % 251);
  char tmpl[] = "/tmp/shoal-file-body-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, content.data(), content.size()) == ssize_t(content.size()));
  ::close(fd);
  struct Unlink {
    const char* path;
    ~Unlink() { ::unlink(path); }
  } unlink_it{tmpl};

  HttpRouter router;
  const std::string path = tmpl;
  router.add("GET", "/file", [&](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
    const uint64_t from = req.has_query("from") ? std::stoull(*req.query_value("from")) : 0;
    const uint64_t len = req.has_query("len") ? std::stoull(*req.query_value("len"))
                                              : content.size() - from;
    res->reply_file(206, UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), from, len,
                    "application/octet-stream", {{"X-Range", std::to_string(from)}});
  });
  router.add("HEAD", "/file", [&](const HttpRequest&, std::shared_ptr<HttpResponder> res) {
    res->reply_file(200, UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), 0, content.size(),
                    "application/octet-stream");
  });
  Server s(std::move(router));

  auto whole = s.call("GET", "/file");
  CHECK(whole.status == 206);
  CHECK(whole.header("Content-Length") == std::to_string(content.size()));
  CHECK(whole.header("X-Range") == "0");
  CHECK(whole.body == content);

  const uint64_t from = kFileBodyPiece - 7, len = kFileBodyPiece + 100;
  auto middle = s.call("GET", "/file?from=" + std::to_string(from) + "&len=" + std::to_string(len));
  CHECK(middle.body == content.substr(from, len));

  auto head = s.call("HEAD", "/file");
  CHECK(head.status == 200);
  CHECK(head.header("Content-Length") == std::to_string(content.size()));
  CHECK(head.body.empty());

  // Keep-alive still works after a file body: the same connection answers again.
  RawSocket raw(s.port);
  raw.send("GET /file?from=10&len=5 HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /file?from=20&len=3 HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string two = raw.read_until("HTTP/1.1 206", 2);
  CHECK(two.find(content.substr(10, 5)) != std::string::npos);

  // Promising more than the file holds: the client sees a cut answer, not a complete one.
  auto cut = [&] {
    HttpExchange ex;
    ex.method = "GET";
    ex.target = "/file?from=" + std::to_string(content.size() - 10) + "&len=100";
    ex.timeout = std::chrono::seconds(5);
    return http_request("127.0.0.1", s.port, ex);
  }();
  CHECK_FALSE(cut.ok());
}

TEST_CASE("handlers that throw or never answer get a 500, double answers are ignored",
          "[node][http]") {
  HttpRouter router;
  router.add("GET", "/throw", [](const HttpRequest&, std::shared_ptr<HttpResponder>) {
    throw std::runtime_error("boom");
  });
  router.add("GET", "/silent", [](const HttpRequest&, std::shared_ptr<HttpResponder>) {});
  router.add("GET", "/twice", [](const HttpRequest&, std::shared_ptr<HttpResponder> res) {
    res->reply(201, "first", "text/plain");
    res->reply(202, "second", "text/plain");
  });
  Server s(std::move(router));
  auto t = s.call("GET", "/throw");
  CHECK(t.status == 500);
  CHECK_THAT(t.body, Catch::Contains("boom"));
  auto q = s.call("GET", "/silent");
  CHECK(q.status == 500);
  CHECK_THAT(q.body, Catch::Contains("no answer"));
  auto d = s.call("GET", "/twice");
  CHECK(d.status == 201);
  CHECK(d.body == "first");
}

TEST_CASE("stop() ends open streams and refuses new connections", "[node][http]") {
  std::atomic<bool> closed{false};
  std::shared_ptr<HttpResponder> kept;  // a stream lives as long as its responder
  HttpRouter router;
  router.add("GET", "/forever", [&](const HttpRequest&, std::shared_ptr<HttpResponder> res) {
    res->start_stream(200, "text/plain");
    res->write("hi\n");
    res->on_close([&] { closed = true; });
    kept = res;
  });
  auto s = std::make_unique<Server>(std::move(router));
  const int port = s->port;
  std::thread client([port] {
    HttpExchange ex;
    ex.target = "/forever";
    ex.timeout = std::chrono::seconds(10);
    ex.on_body = [](std::string_view) { return true; };
    (void)http_request("127.0.0.1", port, ex);  // returns when the server goes away
  });
  for (int i = 0; i < 500 && !kept; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(kept);
  CHECK_FALSE(closed);
  s->server->stop();
  client.join();
  CHECK(closed);
  CHECK_FALSE(kept->write("after stop"));
  HttpExchange ex;
  ex.timeout = std::chrono::seconds(2);
  auto r = http_request("127.0.0.1", port, ex);
  const std::string answered = r.ok() ? std::to_string(r->status) + " " + r->body : "";
  INFO("answered: " << answered);
  CHECK_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("127.0.0.1:" + std::to_string(port)));
}
