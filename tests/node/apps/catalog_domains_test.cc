// Tests of the catalog's custom domains (node/apps/catalog_state: add_domain, remove_domain):
// one owner per host, the per-app limit, errors, snapshots old and new, destroy.
#include <catch2/catch.hpp>

#include "node/apps/catalog_state.h"
#include "tests/node/apps/apps_test_util.h"

using namespace shoal;
using namespace shoal::node::apps;
using namespace shoal::node::apps::test;
using json = nlohmann::json;

namespace {

std::vector<std::string> domains_of(const CatalogState& c, const std::string& app) {
  const AppRecord* rec = c.app(app);
  REQUIRE(rec != nullptr);
  return rec->domains;
}

}  // namespace

TEST_CASE("catalog domains: add, list sorted and lower case, remove", "[apps][catalog][routes]") {
  CatalogState c;
  REQUIRE(run(c, CatalogState::create_app("hello", {"n1"}, 1)).ok());
  auto r = run(c, CatalogState::add_domain("hello", "WWW.Hello.IO"));
  REQUIRE(r.ok());
  CHECK(r.body["host"] == "www.hello.io");
  CHECK(r.body["domains"] == json::array({"www.hello.io"}));
  REQUIRE(run(c, CatalogState::add_domain("hello", "api.hello.io.")).ok());
  // Adding a host the app already has changes nothing and is not an error.
  REQUIRE(run(c, CatalogState::add_domain("hello", "www.hello.io")).ok());
  CHECK(domains_of(c, "hello") == std::vector<std::string>{"api.hello.io", "www.hello.io"});
  CHECK(c.domain_owner("api.hello.io") == "hello");
  CHECK_FALSE(c.domain_owner("hello.io"));

  r = run(c, CatalogState::remove_domain("hello", "API.hello.io"));
  REQUIRE(r.ok());
  CHECK(r.body["domains"] == json::array({"www.hello.io"}));
  expect_error(run(c, CatalogState::remove_domain("hello", "api.hello.io")),
               Status::Code::not_found, "app 'hello' has no domain 'api.hello.io'");
}

TEST_CASE("catalog domains: a host belongs to one app, errors change nothing",
          "[apps][catalog][routes]") {
  CatalogState c;
  REQUIRE(run(c, CatalogState::create_app("hello", {"n1"}, 1)).ok());
  REQUIRE(run(c, CatalogState::create_app("other", {"n1"}, 2)).ok());
  REQUIRE(run(c, CatalogState::add_domain("hello", "www.hello.io")).ok());
  const Bytes before = c.snapshot();
  expect_error(run(c, CatalogState::add_domain("other", "WWW.hello.io")), Status::Code::failed_precondition,
               "domain 'www.hello.io' already belongs to app 'hello'");
  expect_error(run(c, CatalogState::add_domain("nope", "x.io")), Status::Code::not_found,
               "no app 'nope'");
  expect_error(run(c, CatalogState::remove_domain("nope", "x.io")), Status::Code::not_found,
               "no app 'nope'");
  expect_error(run(c, CatalogState::add_domain("hello", "10.0.0.1")),
               Status::Code::invalid_argument, "looks like an IP address");
  expect_error(run(c, CatalogState::add_domain("hello", "bad_host")),
               Status::Code::invalid_argument, "is not a host name");
  expect_error(run(c, encode_command({{"op", "add_domain"}, {"name", "hello"}})),
               Status::Code::invalid_argument, "'host'");
  CHECK(c.snapshot() == before);
}

TEST_CASE("catalog domains: at most 100 per app", "[apps][catalog][routes]") {
  CatalogState c;
  REQUIRE(run(c, CatalogState::create_app("hello", {"n1"}, 1)).ok());
  for (int i = 0; i < 100; ++i) {
    REQUIRE(run(c, CatalogState::add_domain("hello", "d" + std::to_string(i) + ".io")).ok());
  }
  expect_error(run(c, CatalogState::add_domain("hello", "one-more.io")), Status::Code::failed_precondition,
               "app 'hello' already has 100 domains");
  REQUIRE(run(c, CatalogState::add_domain("hello", "d7.io")).ok());  // has it: fine
}

TEST_CASE("catalog domains: go with the app, survive snapshots, old snapshots load",
          "[apps][catalog][routes]") {
  CatalogState c;
  REQUIRE(run(c, CatalogState::create_app("hello", {"n1"}, 1)).ok());
  REQUIRE(run(c, CatalogState::create_app("other", {"n1"}, 2)).ok());
  REQUIRE(run(c, CatalogState::add_domain("hello", "www.hello.io")).ok());
  REQUIRE(run(c, CatalogState::add_domain("hello", "hello.io")).ok());
  const Bytes snap = c.snapshot();
  CatalogState d;
  REQUIRE(d.restore(snap).ok());
  CHECK(d.snapshot() == snap);
  CHECK(domains_of(d, "hello") == std::vector<std::string>{"hello.io", "www.hello.io"});
  CHECK(d.domain_owner("hello.io") == "hello");

  // A snapshot written before custom domains existed has no "domains": it loads, none.
  json old = json::from_msgpack(snap);
  for (auto& [name, a] : old["apps"].items()) a.erase("domains");
  CatalogState e;
  REQUIRE(e.restore(json::to_msgpack(old)).ok());
  CHECK(domains_of(e, "hello").empty());
  json bad = json::from_msgpack(snap);
  bad["apps"]["hello"]["domains"] = "hello.io";
  CHECK_THAT(e.restore(json::to_msgpack(bad)).message(),
             Catch::Contains("app 'hello'") && Catch::Contains("'domains'"));

  // Destroying the app frees its hosts for another.
  REQUIRE(run(d, CatalogState::destroy_app("hello")).ok());
  CHECK_FALSE(d.domain_owner("hello.io"));
  REQUIRE(run(d, CatalogState::add_domain("other", "hello.io")).ok());
  CHECK(d.domain_owner("hello.io") == "other");
}

TEST_CASE("catalog domains: a certificate goes with its domain, survives snapshots, and is "
          "replaced, kept or dropped as asked",
          "[apps][catalog][routes][tls]") {
  CatalogState c;
  REQUIRE(run(c, CatalogState::create_app("hello", {"n1"}, 1)).ok());
  const DomainTls first{"CERT-1", "KEY-1"};
  REQUIRE(run(c, CatalogState::add_domain("hello", "Secure.Hello.IO", &first)).ok());
  REQUIRE(c.app("hello")->tls.at("secure.hello.io") == first);

  // Re-adding without a certificate keeps it; with one replaces it.
  REQUIRE(run(c, CatalogState::add_domain("hello", "secure.hello.io")).ok());
  CHECK(c.app("hello")->tls.at("secure.hello.io") == first);
  const DomainTls second{"CERT-2", "KEY-2"};
  REQUIRE(run(c, CatalogState::add_domain("hello", "secure.hello.io", &second)).ok());
  CHECK(c.app("hello")->tls.at("secure.hello.io") == second);

  // A snapshot carries it.
  CatalogState d;
  REQUIRE(d.restore(c.snapshot()).ok());
  CHECK(d.app("hello")->tls == c.app("hello")->tls);

  // Half a pair is refused and changes nothing.
  const Bytes before = c.snapshot();
  expect_error(run(c, encode_command({{"op", "add_domain"},
                                      {"name", "hello"},
                                      {"host", "x.hello.io"},
                                      {"cert", "CERT"}})),
               Status::Code::invalid_argument, "a certificate needs its key");
  CHECK(c.snapshot() == before);

  // Removing the domain drops its certificate.
  REQUIRE(run(c, CatalogState::remove_domain("hello", "secure.hello.io")).ok());
  CHECK(c.app("hello")->tls.empty());
}
