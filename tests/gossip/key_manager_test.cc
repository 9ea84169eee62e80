// Serf's keyring queries answered by Serf cores (key_manager.h), under virtual time: a
// rotation run as install / use / remove queries reaches every member with no member
// lost, each change is saved before the answer, and a refused step is reported per node.
#include <catch2/catch.hpp>

#include "gossip/key_manager.h"
#include "gossip/key_query.h"
#include "tests/gossip/local_cluster.h"

namespace shoal::gossip {
namespace {

using namespace std::chrono_literals;

Bytes key_of(uint8_t fill) { return Bytes(kKeySize, fill); }

TEST_CASE("key queries rotate every member's keyring and report per node", "[gossip][keyring]") {
  test::LocalCluster c(11);
  const std::vector<std::string> names{"a", "b", "c"};
  std::map<std::string, std::vector<Bytes>> saved;  // node -> primary of each save
  for (const auto& n : names) {
    c.add(n, {}, [](SerfConfig& sc) { sc.memberlist.keyring = Keyring::create({key_of(1)}).value(); });
    serve_key_queries(c.serf(n), [&saved, n](const Keyring& k) {
      saved[n].emplace_back(k.primary().begin(), k.primary().end());
      return Status();
    });
  }
  for (size_t i = 1; i < names.size(); ++i) c.join(names[i], "a");
  c.run_for(5s);

  auto all_alive = [&] {
    for (const auto& o : names) {
      for (const auto& m : names) {
        if (c.status(o, m) != MemberStatus::alive) return false;
      }
    }
    return true;
  };
  REQUIRE(all_alive());

  auto run = [&](KeyOp op, const Bytes& key) {
    auto started = c.serf("b").query(key_query_name(op), encode_key_request(key), {}, c.now());
    REQUIRE(started.ok());
    c.drain("b");
    c.run_for(started->deadline - c.now() + 100ms);
    KeyReport report;
    report.num_nodes = static_cast<int>(names.size());
    for (const auto& action : c.query_progress("b")) {
      if (const auto* r = std::get_if<QueryResponseReceived>(&action); r && r->query == started->query) {
        report.add(r->from, r->payload);
      }
    }
    CHECK(all_alive());
    return report;
  };

  CHECK(run(KeyOp::install, key_of(2)).status().ok());
  CHECK(run(KeyOp::use, key_of(2)).status().ok());
  CHECK(run(KeyOp::remove, key_of(1)).status().ok());
  KeyReport list = run(KeyOp::list, {});
  REQUIRE(list.status().ok());
  CHECK(list.keys == std::map<std::string, int>{{key_to_base64(key_of(2)), 3}});
  CHECK(list.primary_keys == std::map<std::string, int>{{key_to_base64(key_of(2)), 3}});
  for (const auto& n : names) {
    CHECK(c.serf(n).keyring().keys() == std::vector<Bytes>{key_of(2)});
    // install (primary still 1), use, remove: three saves, the last two with key 2.
    CHECK(saved[n] == std::vector<Bytes>{key_of(1), key_of(2), key_of(2)});
  }

  KeyReport refused = run(KeyOp::remove, key_of(2));
  CHECK(refused.status().message() == "3/3 nodes reported failure");
  for (const auto& n : names) {
    CHECK_THAT(refused.messages[n], Catch::Contains("primary key"));
  }
  c.run_for(10s);
  CHECK(all_alive());
}

TEST_CASE("a member that cannot save its keyring answers with the failure", "[gossip][keyring]") {
  test::LocalCluster c(12);
  c.add("a", {}, [](SerfConfig& sc) { sc.memberlist.keyring = Keyring::create({key_of(1)}).value(); });
  serve_key_queries(c.serf("a"), [](const Keyring&) { return Status::io_error("disk full"); });
  auto started = c.serf("a").query(key_query_name(KeyOp::install), encode_key_request(key_of(2)), {},
                                   c.now());
  REQUIRE(started.ok());
  c.drain("a");
  c.run_for(started->deadline - c.now() + 100ms);
  KeyReport report;
  report.num_nodes = 1;
  for (const auto& action : c.query_progress("a")) {
    if (const auto* r = std::get_if<QueryResponseReceived>(&action)) report.add(r->from, r->payload);
  }
  CHECK(report.num_err == 1);
  CHECK_THAT(report.messages["a"], Catch::Contains("disk full"));
}

}  // namespace
}  // namespace shoal::gossip
