// The API over TLS (docs/security.md, "TLS on the API"): the certificate a node makes and
// keeps, the TLS listener in front of an unchanged HttpServer, and the CLI's pins.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli/known_hosts.h"
#include "node/http_client.h"
#include "node/http_server.h"
#include "node/metrics.h"
#include "node/tls/api_cert.h"
#include "node/tls/api_listener.h"
#include "node/tls/fingerprint.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::node;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

double tls_events(const std::string& event) {
  return metrics::registry()
      .counter_family("shoal_api_tls_total",
                      "Connections to the API's TLS listener, by how their handshake ended "
                      "(docs/security.md)",
                      {"event"})
      .labels({event})
      .value();
}

// An HttpServer behind an ApiTlsListener on a loopback port, as HttpApi wires them.
struct TlsServer {
  explicit TlsServer(tls::ApiTlsOptions options = {}) {
    auto made = tls::make_self_signed("test-node", {"127.0.0.1", "test-node"});
    REQUIRE(made.ok());
    pem = *made;
    HttpRouter router;
    router.add("GET", "/hello", [](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
      res->reply(200, "{\"remote\":\"" + req.remote + "\"}");
    });
    router.add("POST", "/echo", [](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
      res->reply(200, req.body, "application/octet-stream");
    }, RouteOptions{.body_limit = 8 * 1024 * 1024});
    server = HttpServer::start_unbound(std::move(router));
    auto started = tls::ApiTlsListener::start(
        *gossip::Address::parse("127.0.0.1:0"), pem,
        [s = server.get()](int fd, std::string remote) { s->adopt(fd, std::move(remote)); },
        options);
    REQUIRE(started.ok());
    listener = std::move(*started);
  }
  ~TlsServer() {
    server->stop();
    listener->stop();
  }
  int port() const { return listener->address().port; }

  router::TlsPem pem;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<tls::ApiTlsListener> listener;
};

// A TLS exchange that accepts any server and records what it saw of it.
HttpExchange tls_get(const std::string& target, TlsPeer* seen) {
  HttpExchange ex;
  ex.target = target;
  ex.timeout = 10s;
  auto options = std::make_shared<TlsClientOptions>();
  options->accept = [seen](const TlsPeer& peer) {
    if (seen) *seen = peer;
    return Status();
  };
  ex.tls = options;
  return ex;
}

}  // namespace

TEST_CASE("a node's API certificate is made once, kept private, and reused", "[api-tls]") {
  const fs::path dir = test::make_temp_dir("shoal-api-cert");
  auto first = tls::ensure_api_cert(dir, "node-a", {"10.1.2.3", "node-a"});
  REQUIRE(first.ok());
  CHECK(first->generated);
  CHECK(first->fingerprint.starts_with("SHA256:"));
  CHECK(first->fingerprint.size() == 7 + 43);  // 32 bytes, unpadded base64
  const fs::path key = dir / tls::kApiTlsDir / "key.pem";
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // A restart finds the same key: the fingerprint a CLI pinned still holds.
  auto again = tls::ensure_api_cert(dir, "node-a", {"10.1.2.3"});
  REQUIRE(again.ok());
  CHECK(again->fingerprint == first->fingerprint);
  CHECK(tls::fingerprint_of_pem(again->pem.cert).value() == first->fingerprint);

  // A certificate that no longer loads is not silently replaced (that would change the pin).
  std::ofstream(dir / tls::kApiTlsDir / "cert.pem") << "not a certificate\n";
  auto broken = tls::ensure_api_cert(dir, "node-a", {});
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.status().is(Status::Code::failed_precondition));
  CHECK_THAT(broken.status().message(), Catch::Contains("remove the directory"));

  // A key without its certificate is what a crash between the two writes leaves: remade.
  fs::remove(dir / tls::kApiTlsDir / "cert.pem");
  auto remade = tls::ensure_api_cert(dir, "node-a", {});
  REQUIRE(remade.ok());
  CHECK(remade->fingerprint != first->fingerprint);
  fs::remove_all(dir);
}

TEST_CASE("a user's API certificate must be a matching pair", "[api-tls]") {
  const fs::path dir = test::make_temp_dir("shoal-api-cert");
  auto a = tls::make_self_signed("a", {"a.example"});
  auto b = tls::make_self_signed("b", {"b.example"});
  REQUIRE((a.ok() && b.ok()));
  std::ofstream(dir / "a.crt") << a->cert;
  std::ofstream(dir / "a.key") << a->key;
  std::ofstream(dir / "b.key") << b->key;
  auto good = tls::load_api_cert(dir / "a.crt", dir / "a.key");
  REQUIRE(good.ok());
  CHECK_FALSE(good->generated);
  auto mismatched = tls::load_api_cert(dir / "a.crt", dir / "b.key");
  REQUIRE_FALSE(mismatched.ok());
  CHECK(mismatched.status().is(Status::Code::invalid_argument));
  CHECK_THAT(mismatched.status().message(), Catch::Contains("a.crt"));
  CHECK_THAT(mismatched.status().message(), Catch::Contains("does not belong"));
  auto missing = tls::load_api_cert(dir / "none.crt", dir / "a.key");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains("none.crt"));
  fs::remove_all(dir);
}

TEST_CASE("the TLS listener serves the HTTP server's answers, large bodies both ways",
          "[api-tls]") {
  TlsServer server;
  TlsPeer peer;
  auto res = http_request("127.0.0.1", server.port(), tls_get("/hello", &peer));
  REQUIRE(res.ok());
  CHECK(res->status == 200);
  CHECK_THAT(res->body, Catch::Contains("127.0.0.1:"));  // the client's address, not the pair's
  CHECK(peer.fingerprint == tls::fingerprint_of_pem(server.pem.cert).value());
  CHECK_FALSE(peer.verified);  // self-signed, and no CA file given
  CHECK_FALSE(peer.verify_error.empty());

  std::string big(5 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131 + i / 977) & 0xff);
  HttpExchange post = tls_get("/echo", nullptr);
  post.method = "POST";
  post.body = big;
  auto echoed = http_request("127.0.0.1", server.port(), post);
  REQUIRE(echoed.ok());
  CHECK(echoed->status == 200);
  CHECK(echoed->body == big);
}

TEST_CASE("a TLS client trusts the listener through a CA file naming its address", "[api-tls]") {
  TlsServer server;
  const fs::path dir = test::make_temp_dir("shoal-api-ca");
  std::ofstream(dir / "ca.pem") << server.pem.cert;
  HttpExchange ex;
  ex.target = "/hello";
  auto options = std::make_shared<TlsClientOptions>();
  options->ca_file = (dir / "ca.pem").string();
  ex.tls = options;  // no accept(): only a verified server will do
  auto res = http_request("127.0.0.1", server.port(), ex);
  REQUIRE(res.ok());
  CHECK(res->status == 200);

  // Without the CA file the same server is refused, and nothing is sent.
  ex.tls = std::make_shared<TlsClientOptions>();
  auto refused = http_request("127.0.0.1", server.port(), ex);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.status().message(), Catch::Contains("not trusted"));

  options = std::make_shared<TlsClientOptions>();
  options->ca_file = (dir / "missing.pem").string();
  ex.tls = options;
  auto bad_ca = http_request("127.0.0.1", server.port(), ex);
  REQUIRE_FALSE(bad_ca.ok());
  CHECK_THAT(bad_ca.status().message(), Catch::Contains("missing.pem"));
  fs::remove_all(dir);
}

TEST_CASE("plain HTTP to the TLS listener is told to use https", "[api-tls]") {
  TlsServer server;
  const double before = tls_events("plain_http");
  HttpExchange ex;
  ex.target = "/hello";
  auto res = http_request("127.0.0.1", server.port(), ex);
  REQUIRE(res.ok());
  CHECK(res->status == 400);
  CHECK_THAT(res->body, Catch::Contains("https://127.0.0.1:" + std::to_string(server.port())));
  CHECK(tls_events("plain_http") == before + 1);
}

TEST_CASE("a client stalled in the handshake is cut off, and a full handshake queue refuses",
          "[api-tls]") {
  tls::ApiTlsOptions options;
  options.handshake_timeout = 300ms;
  options.max_handshakes = 1;
  TlsServer server(options);
  const double timed_out = tls_events("timed_out");
  const double over = tls_events("over_limit");

  auto connect_raw = [&] {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(server.port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
  };
  const int stalled = connect_raw();  // says nothing: holds the one handshake slot
  std::this_thread::sleep_for(50ms);
  const int second = connect_raw();
  // The second is closed at once (over the limit); the first when its time is up.
  char byte;
  timeval tv{5, 0};
  ::setsockopt(second, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(stalled, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  CHECK(::recv(second, &byte, 1, 0) == 0);
  CHECK(::recv(stalled, &byte, 1, 0) == 0);
  ::close(second);
  ::close(stalled);
  CHECK(tls_events("over_limit") == over + 1);
  CHECK(tls_events("timed_out") == timed_out + 1);

  // The slot is free again.
  auto res = http_request("127.0.0.1", server.port(), tls_get("/hello", nullptr));
  REQUIRE(res.ok());
  CHECK(res->status == 200);
}

TEST_CASE("the CLI pins an agent's key on first use and refuses a changed one", "[api-tls]") {
  const fs::path dir = test::make_temp_dir("shoal-known-hosts");
  cli::TrustSettings trust;
  trust.known_hosts = dir / "shoal" / "known_hosts";
  std::FILE* notices = std::tmpfile();
  trust.notices = notices;
  TlsPeer peer;
  peer.fingerprint = "SHA256:aaaa";
  peer.verify_error = "self-signed certificate";

  REQUIRE(cli::judge_server(trust, "10.0.0.1:8080", peer).ok());  // first use: pinned
  CHECK(slurp(trust.known_hosts) == "10.0.0.1:8080 SHA256:aaaa\n");
  std::rewind(notices);
  char line[512] = {};
  REQUIRE(std::fgets(line, sizeof line, notices) != nullptr);
  CHECK_THAT(std::string(line), Catch::Contains("SHA256:aaaa"));
  CHECK_THAT(std::string(line), Catch::Contains("pinned"));

  REQUIRE(cli::judge_server(trust, "10.0.0.1:8080", peer).ok());  // the same key again
  CHECK(slurp(trust.known_hosts) == "10.0.0.1:8080 SHA256:aaaa\n");

  // Another agent gets its own line; a hand-mangled line is skipped, not fatal.
  { std::ofstream(trust.known_hosts, std::ios::app) << "# a comment\ngarbage\n"; }
  TlsPeer other = peer;
  other.fingerprint = "SHA256:bbbb";
  REQUIRE(cli::judge_server(trust, "10.0.0.2:8080", other).ok());

  // A changed key for a pinned agent is refused, naming the file and line.
  auto changed = cli::judge_server(trust, "10.0.0.1:8080", other);
  REQUIRE_FALSE(changed.ok());
  CHECK(changed.is(Status::Code::permission_denied));
  CHECK_THAT(changed.message(), Catch::Contains("has changed"));
  CHECK_THAT(changed.message(), Catch::Contains(trust.known_hosts.string() + " line 1"));
  CHECK_THAT(changed.message(), Catch::Contains("SHA256:bbbb"));

  // A CA-verified certificate needs no pin, and writes none.
  TlsPeer verified = other;
  verified.verified = true;
  REQUIRE(cli::judge_server(trust, "10.0.0.3:8080", verified).ok());
  CHECK(slurp(trust.known_hosts).find("10.0.0.3") == std::string::npos);

  // An expected fingerprint wins over everything, the file included.
  trust.expected_fingerprint = "SHA256:cccc";
  auto wrong = cli::judge_server(trust, "10.0.0.3:8080", verified);
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(wrong.message(), Catch::Contains("--tls-fingerprint"));
  TlsPeer right = peer;
  right.fingerprint = "SHA256:cccc";
  CHECK(cli::judge_server(trust, "10.0.0.1:8080", right).ok());
  std::fclose(notices);
  fs::remove_all(dir);
}
