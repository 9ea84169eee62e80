// The node-to-node channel on a 3-node loopback cluster (docs/security.md, "Node to node"):
// a process on loopback that reaches a node's --rpc port without the cluster secret —
// plaintext HTTP, plaintext Raft frames, or a handshake keyed with another secret — is
// refused, counted, and changes nothing; with the secret, the same call works. An agent
// started with the wrong secret is refused when it joins, and one with none is told where
// to find it. A new cluster keeps its secret 0600 in its data dir.
#include <sys/socket.h>
#include <sys/stat.h>

#include <set>

#include <catch2/catch.hpp>

#include "node/http_client.h"
#include "node/secure/handshake.h"
#include "raft/wire.h"
#include "tests/integration/apps_cluster.h"

using namespace shoal;
using namespace shoal::test;
using namespace std::chrono_literals;

namespace {

// The value of shoal_rpc_channel_total{event="EVENT"} in `node`'s /metrics.
double channel_count(AgentProcess& node, const std::string& event) {
  auto r = node.anonymous_client(5s).send("GET", "/metrics");
  REQUIRE(r.ok());
  const std::string series = "shoal_rpc_channel_total{event=\"" + event + "\"} ";
  const auto at = r->body.find(series);
  if (at == std::string::npos) return 0;
  return std::stod(r->body.substr(at + series.size()));
}

// Connects to 127.0.0.1:port, sends `bytes`, and returns what came back before the node
// closed the connection (or 5 s passed).
std::string send_raw(int port, const Bytes& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return got;
}

Bytes plaintext_raft_frames() {
  Bytes out;
  raft::append_frame(out, raft::encode_hello({raft::kWireVersion, "intruder"}));
  raft::RequestVote vote;
  vote.term = 1000;
  vote.from = "intruder";
  vote.pre_vote = true;
  raft::append_frame(out, raft::encode_batch({{0, vote}, {1, vote}}));
  return out;
}

fs::path write_secret_file(const fs::path& dir) {
  const fs::path file = dir / "other-secret";
  std::ofstream(file) << node::secure::secret_text(node::secure::generate_secret()) << "\n";
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  return file;
}

node::HttpExchange exchange(const std::string& method, const std::string& target,
                            std::string body = {}) {
  node::HttpExchange ex;
  ex.method = method;
  ex.target = target;
  ex.body = std::move(body);
  ex.timeout = 5s;
  return ex;
}

}  // namespace

TEST_CASE("channel: without the cluster secret, a node's --rpc port gives nothing and takes "
          "nothing",
          "[integration][security][channel]") {
  AppsCluster c(3);
  AgentProcess& n0 = *c.agents[0];
  const json app = {{"name", "web"}};
  REQUIRE(n0.client(10s).call("POST", "/v1/apps", {}, &app).ok());
  const json config = {{"set", {{"DATABASE_PASSWORD", "hunter2"}}}};
  REQUIRE(n0.client(10s).call("POST", "/v1/apps/web/config", {}, &config).ok());
  auto before = n0.client(5s).call("GET", "/v1/apps");
  REQUIRE(before.ok());
  const double refused0 = channel_count(n0, "refused");
  const double plain0 = channel_count(n0, "not_a_handshake");

  for (auto& node : c.agents) {
    const int rpc = node->rpc_port();
    // 1. Plain HTTP, as the node-to-node API was before: no answer, and no secret.
    auto read = node::http_request("127.0.0.1", rpc, exchange("GET", "/v1/apps/web/config"));
    CHECK((!read.ok() || read->body.find("hunter2") == std::string::npos));
    CHECK_FALSE(read.ok());
    auto write = node::http_request("127.0.0.1", rpc,
                                    exchange("POST", "/v1/apps", R"({"name": "sneaky"})"));
    CHECK_FALSE(write.ok());
    // An artifact fetch, and an upload, as a peer would make them.
    auto fetch = node::http_request("127.0.0.1", rpc,
                                    exchange("GET", "/v1/internal/artifacts/" + std::string(64, 'a')));
    CHECK_FALSE(fetch.ok());
    auto upload = node::http_request(
        "127.0.0.1", rpc, exchange("POST", "/v1/internal/apps/web/releases", R"({"release": 1})"));
    CHECK_FALSE(upload.ok());

    // 2. Well-formed plaintext Raft frames (a Hello, then pre-votes at a high term): the
    //    connection is closed without a word.
    CHECK(send_raw(rpc, plaintext_raft_frames()).empty());

    // 3. The channel's own handshake, keyed with another secret: refused, said so.
    node::HttpExchange keyed = exchange("POST", "/v1/apps", R"({"name": "sneaky"})");
    keyed.keys = std::make_shared<node::secure::Keyring>(
        std::vector<node::secure::SecretKey>{node::secure::generate_secret()});
    auto wrong = node::http_request("127.0.0.1", rpc, keyed);
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.status().message().find("refused") != std::string::npos);
    node::secure::ClientHandshake hs(node::secure::generate_secret());
    const std::string answer = send_raw(rpc, Bytes(hs.hello().begin(), hs.hello().end()));
    CHECK(answer == std::string(node::secure::kRefusal.begin(), node::secure::kRefusal.end()));
  }

  // Counted on the node that refused them.
  CHECK(channel_count(n0, "refused") >= refused0 + 2);
  CHECK(channel_count(n0, "not_a_handshake") >= plain0 + 5);
  // Nothing changed: no app was made, no leader was unseated by the pre-votes.
  std::this_thread::sleep_for(1s);
  auto after = n0.client(5s).call("GET", "/v1/apps");
  REQUIRE(after.ok());
  auto names = [](const json& list) {
    std::set<std::string> out;
    for (const auto& app : list.at("apps")) out.insert(app.at("name").get<std::string>());
    return out;
  };
  CHECK(names(*after) == names(*before));
  CHECK(names(*after) == std::set<std::string>{"web"});

  // With the cluster's secret, the same port serves the node-to-node API.
  auto ring = node::secure::load_keyring(test_cluster_secret_file());
  REQUIRE(ring.ok());
  node::HttpExchange good = exchange("GET", "/v1/health");
  good.keys = std::make_shared<node::secure::Keyring>(*ring);
  auto ok = node::http_request("127.0.0.1", n0.rpc_port(), good);
  REQUIRE(ok.ok());
  CHECK(ok->status == 200);
}

TEST_CASE("channel: an agent with the wrong cluster secret is refused when it joins",
          "[integration][security][channel]") {
  auto n0 = AgentProcess::start("n0");
  REQUIRE(n0->wait_healthy());
  const fs::path scratch = make_temp_dir("shoal-channel");
  const fs::path other = write_secret_file(scratch);

  auto intruder = AgentProcess::start("intruder", {"--join", n0->gossip_addr(),
                                                   "--cluster-secret-file", other.string()});
  const auto code = intruder->wait_for_exit(30s);
  REQUIRE(code.has_value());
  CHECK(*code != 0);
  CHECK(intruder->log().find("refused our cluster secret") != std::string::npos);
  auto members = n0->client(5s).call("GET", "/v1/members");
  REQUIRE(members.ok());
  CHECK(members->dump().find("intruder") == std::string::npos);
  CHECK(channel_count(*n0, "refused") >= 1);

  // A running node with another secret asked to join at runtime (`shoal join`) is refused
  // the same way, and stays alone.
  auto loner = AgentProcess::start("loner", {"--cluster-secret-file", other.string()});
  REQUIRE(loner->wait_healthy());
  const json join = {{"addrs", {n0->gossip_addr()}}};
  auto joined = loner->client(10s).call("POST", "/v1/join", {}, &join);
  REQUIRE_FALSE(joined.ok());
  CHECK(joined.status().is(Status::Code::permission_denied));
  CHECK(joined.status().message().find("refused our cluster secret") != std::string::npos);
  auto n0_members = n0->client(5s).call("GET", "/v1/members");
  REQUIRE(n0_members.ok());
  CHECK(n0_members->dump().find("loner") == std::string::npos);

  // Joining with no secret at all: the agent says where the cluster's is, and exits.
  const fs::path dir = scratch / "lost";
  auto lost = run_command({"agent", "--node", "lost", "--bind",
                           "127.0.0.1:" + std::to_string(free_loopback_port()), "--http",
                           "127.0.0.1:" + std::to_string(free_loopback_port()), "--router",
                           "off", "--data-dir", dir.string(), "--join", n0->gossip_addr()},
                          30s);
  CHECK(lost.exit_code != 0);
  INFO(lost.out << lost.err);
  CHECK(lost.err.find("--cluster-secret-file") != std::string::npos);
  std::error_code ec;
  fs::remove_all(scratch, ec);
}

TEST_CASE("channel: a new cluster keeps its secret 0600, a node given it joins",
          "[integration][security][channel]") {
  auto first = AgentProcess::start("first", {}, /*test_token=*/false);
  REQUIRE(first->wait_healthy());
  const fs::path secret = first->data_dir() / "cluster-secret";
  REQUIRE(fs::exists(secret));
  struct stat st {};
  REQUIRE(::stat(secret.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(first->log().find("Copy it to each node that joins") != std::string::npos);
  CHECK(first->log().find(node::secure::kSecretPrefix.data()) == std::string::npos);  // never shown

  // `shoal keygen --cluster` makes a secret a provisioning tool can write to a file.
  auto made = run_command({"keygen", "--cluster"}, 10s);
  CHECK(made.exit_code == 0);
  CHECK(node::secure::parse_secret(made.out).ok());

  auto second = AgentProcess::start("second", {"--join", first->gossip_addr(),
                                               "--cluster-secret-file", secret.string()},
                                    /*test_token=*/false);
  REQUIRE(second->wait_healthy());
  // Both ends of the channel work: the second node reaches the catalog through the first.
  const std::string token = read_file(first->data_dir() / "admin-token");
  auto client = second->anonymous_client(5s);
  client.set_token(token.substr(0, token.find('\n')));
  REQUIRE(wait_for(30s, [&] { return client.call("GET", "/v1/apps").ok(); }));
}
