// Tests of node/apps/catalog_tokens through CatalogState: adding, naming, the bootstrap
// token's once-only rule, revocation, versions, the change hook, snapshots and pushes.
#include "node/apps/catalog_tokens.h"

#include <catch2/catch.hpp>

#include "node/apps/catalog_state.h"
#include "tests/node/apps/apps_test_util.h"

using namespace shoal;
using namespace shoal::node;
using namespace shoal::node::apps;
using namespace shoal::node::apps::test;

namespace {

TokenRecord record(const auth::TokenParts& t, std::vector<std::string> scopes, std::string name) {
  return {auth::hash_secret(t.secret), std::move(scopes), std::move(name), 1000, "tester"};
}

}  // namespace

TEST_CASE("catalog tokens: add, name, revoke, with versions and events", "[apps][catalog][auth]") {
  uint64_t seen_version = 0;
  auth::TokenTable seen;
  CatalogState c([&](uint64_t v, auth::TokenTable t) {
    seen_version = v;
    seen = std::move(t);
  });
  const auto a = auth::generate_token();
  const auto b = auth::generate_token();
  REQUIRE(run(c, catalog_add_token(a.id, record(a, {"admin"}, "root"), true)).ok());
  CHECK(c.tokens().bootstrap_id() == a.id);
  CHECK(c.tokens().version() == 1);
  CHECK(seen_version == 1);
  REQUIRE(seen.contains(a.id));
  CHECK(seen.at(a.id).scopes.at(0).kind == auth::Scope::Kind::admin);

  REQUIRE(run(c, catalog_add_token(b.id, record(b, {"deploy:web", "read"}, "ci"), false)).ok());
  CHECK(c.tokens().version() == 2);
  expect_error(run(c, catalog_add_token(auth::generate_token().id, record(b, {"read"}, "ci"), false)),
               Status::Code::already_exists, "a token named 'ci' exists");
  expect_error(run(c, catalog_add_token(b.id, record(b, {"read"}, "other"), false)),
               Status::Code::already_exists, "token id taken");
  expect_error(run(c, catalog_add_token(auth::generate_token().id, record(b, {"root"}, "x"), false)),
               Status::Code::invalid_argument, "scope 'root'");
  expect_error(run(c, catalog_add_token("XYZ", record(b, {"read"}, "x"), false)),
               Status::Code::invalid_argument, "not a token id");
  expect_error(run(c, catalog_add_token(auth::generate_token().id,
                                        record(b, {"read"}, "0123456789abcdef"), false)),
               Status::Code::invalid_argument, "looks like a token id");
  CHECK(c.tokens().version() == 2);  // failures change nothing

  // Revoke by name, then by id; the events say who.
  auto r = run(c, catalog_revoke_token("ci", "root (x)", 2000));
  REQUIRE(r.ok());
  CHECK(r.body["id"] == b.id);
  CHECK(seen_version == 3);
  CHECK_FALSE(seen.contains(b.id));
  expect_error(run(c, catalog_revoke_token("ci", "root", 2100)), Status::Code::not_found, "ci");
  REQUIRE(run(c, catalog_revoke_token(a.id, "root", 2200)).ok());
  CHECK(c.tokens().tokens().empty());
  bool created = false, revoked = false;
  for (const auto& e : c.events().since(0, 100)) {
    created |= e.kind == "token_created" && e.message.find("by tester") != std::string::npos;
    revoked |= e.kind == "token_revoked" && e.message.find("revoked by root (x)") != std::string::npos;
  }
  CHECK(created);
  CHECK(revoked);

  // The bootstrap token is added once in the cluster's life, even after its revocation.
  expect_error(run(c, catalog_add_token(a.id, record(a, {"admin"}, "root"), true)),
               Status::Code::failed_precondition, "already has its bootstrap token");
}

TEST_CASE("catalog tokens: a bootstrap retry that landed is ok", "[apps][catalog][auth]") {
  CatalogState c;
  const auto a = auth::generate_token();
  REQUIRE(run(c, catalog_add_token(a.id, record(a, {"admin"}, "root"), true)).ok());
  CHECK(run(c, catalog_add_token(a.id, record(a, {"admin"}, "root"), true)).ok());
  CHECK(c.tokens().version() == 1);
}

TEST_CASE("catalog tokens: snapshots and pushed tables round-trip", "[apps][catalog][auth]") {
  CatalogState c;
  const auto a = auth::generate_token();
  REQUIRE(run(c, catalog_add_token(a.id, record(a, {"admin"}, "root"), true)).ok());
  uint64_t restored_version = 0;
  CatalogState d([&](uint64_t v, auth::TokenTable) { restored_version = v; });
  REQUIRE(d.restore(c.snapshot()).ok());
  CHECK(d.tokens() == c.tokens());
  CHECK(restored_version == 1);  // the hook survives restore() and hears it

  auto table = CatalogTokens::table_from_json(c.tokens().table_json());
  REQUIRE(table.ok());
  CHECK(table->first == 1);
  CHECK(table->second == c.tokens().table());
  CHECK(c.tokens().table_json().dump().find(a.secret) == std::string::npos);

  auto bad = c.tokens().table_json();
  bad["tokens"][0]["hash"] = "nothex";
  CHECK_FALSE(CatalogTokens::table_from_json(bad).ok());
  bad = c.tokens().table_json();
  bad["tokens"][0]["scopes"] = {"sudo"};
  CHECK_FALSE(CatalogTokens::table_from_json(bad).ok());
}
