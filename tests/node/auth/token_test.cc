// Tests of node/auth: the token format, scopes and what they allow, the TokenStore, and the
// API's access policy (node/api_auth.h).
#include "node/auth/token.h"

#include <catch2/catch.hpp>

#include "node/api_auth.h"
#include "node/auth/token_store.h"

using namespace shoal;
using namespace shoal::node;
using namespace shoal::node::auth;

TEST_CASE("tokens: generated tokens parse back, are distinct, and hash stably", "[auth]") {
  const TokenParts a = generate_token();
  const TokenParts b = generate_token();
  CHECK(a.id != b.id);
  CHECK(a.secret != b.secret);
  CHECK(is_token_id(a.id));
  const std::string text = token_text(a);
  CHECK(text.size() == kTokenPrefix.size() + kTokenIdHexLen + 1 + kTokenSecretLen);
  auto parsed = parse_token(text);
  REQUIRE(parsed.ok());
  CHECK(parsed->id == a.id);
  CHECK(parsed->secret == a.secret);
  CHECK(hash_secret(a.secret) == hash_secret(a.secret));
  CHECK(hash_secret(a.secret) != hash_secret(b.secret));
  CHECK(is_token_hash(hash_secret(a.secret)));
  CHECK(same_hash(hash_secret(a.secret), hash_secret(a.secret)));
  CHECK_FALSE(same_hash(hash_secret(a.secret), hash_secret(b.secret)));
}

TEST_CASE("tokens: malformed text is refused without echoing the secret", "[auth]") {
  const std::string good = token_text(generate_token());
  for (const std::string& bad : {std::string(""), std::string("Bearer x"), good.substr(1),
                                good + "x", "shoal_" + std::string(16, 'G') + good.substr(22),
                                good.substr(0, 22) + "-" + good.substr(23),
                                good.substr(0, 30) + "!" + good.substr(31)}) {
    auto r = parse_token(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().is(Status::Code::invalid_argument));
    if (bad.size() > 30) CHECK(r.status().message().find(bad.substr(23)) == std::string::npos);
  }
}

TEST_CASE("tokens: bearer header parsing", "[auth]") {
  CHECK(bearer_token("Bearer abc") == std::optional<std::string_view>("abc"));
  CHECK(bearer_token("bearer   abc  ") == std::optional<std::string_view>("abc"));
  CHECK(bearer_token("BEARER abc") == std::optional<std::string_view>("abc"));
  CHECK_FALSE(bearer_token("Basic abc"));
  CHECK_FALSE(bearer_token("Bearer "));
  CHECK_FALSE(bearer_token(""));
}

TEST_CASE("tokens: basic header parsing takes the password (git's credentials)", "[auth]") {
  // base64("push:s3cret") and base64(":s3cret"): the user is not looked at.
  CHECK(basic_password("Basic cHVzaDpzM2NyZXQ=") == std::optional<std::string>("s3cret"));
  CHECK(basic_password("basic   OnMzY3JldA==  ") == std::optional<std::string>("s3cret"));
  CHECK_FALSE(basic_password("Basic cHVzaA=="));      // "push": no colon
  CHECK_FALSE(basic_password("Basic cHVzaDo="));      // "push:": no password
  CHECK_FALSE(basic_password("Basic not base64!"));
  CHECK_FALSE(basic_password("Bearer cHVzaDpzM2NyZXQ="));
  CHECK_FALSE(basic_password(""));
  // What the server takes from either: Bearer's token, else Basic's password.
  CHECK(token_of_header("Bearer abc") == std::optional<std::string>("abc"));
  CHECK(token_of_header("Basic cHVzaDpzM2NyZXQ=") == std::optional<std::string>("s3cret"));
  CHECK_FALSE(token_of_header("Digest abc"));
}

TEST_CASE("tokens: scopes parse, and allow exactly what they say", "[auth]") {
  CHECK(parse_scope("admin")->kind == Scope::Kind::admin);
  CHECK(parse_scope("read")->kind == Scope::Kind::read);
  CHECK(parse_scope("deploy:web")->app == "web");
  CHECK(parse_scope("deploy:Web").status().message().find("deploy:Web") != std::string::npos);
  CHECK_FALSE(parse_scope("deploy:").ok());
  CHECK_FALSE(parse_scope("root").ok());
  CHECK_FALSE(parse_scopes({}).ok());
  CHECK(parse_scopes({"read", "read", "deploy:a"})->size() == 2);

  using K = Access::Kind;
  const auto admin = *parse_scopes({"admin"});
  const auto read = *parse_scopes({"read"});
  const auto web = *parse_scopes({"deploy:web"});
  const auto both = *parse_scopes({"deploy:web", "deploy:api"});
  CHECK(allows({}, {K::open, ""}));
  CHECK_FALSE(allows({}, {K::read, ""}));
  CHECK(allows(admin, {K::admin, ""}));
  CHECK(allows(admin, {K::deploy, "web"}));
  CHECK(allows(read, {K::read, ""}));
  CHECK_FALSE(allows(read, {K::deploy, "web"}));
  CHECK_FALSE(allows(read, {K::admin, ""}));
  CHECK(allows(web, {K::read, ""}));
  CHECK(allows(web, {K::deploy, "web"}));
  CHECK_FALSE(allows(web, {K::deploy, "api"}));
  CHECK_FALSE(allows(web, {K::admin, ""}));
  CHECK(allows(both, {K::deploy, "api"}));
}

TEST_CASE("token store: newer tables only, unknown, revoked and wrong secrets refused", "[auth]") {
  TokenStore store;
  const TokenParts t = generate_token();
  const std::string header = "Bearer " + token_text(t);
  auto before = store.authenticate(header);
  CHECK(before.status().is(Status::Code::unavailable));  // no table yet

  TokenTable table;
  table[t.id] = {hash_secret(t.secret), *parse_scopes({"deploy:web"}), "ci"};
  REQUIRE(store.update(2, table));
  auto who = store.authenticate(header);
  REQUIRE(who.ok());
  CHECK(who->id == t.id);
  CHECK(who->describe() == "ci (" + t.id + ")");
  CHECK(who->scopes.at(0).app == "web");

  CHECK(store.authenticate("").status().is(Status::Code::unauthenticated));
  CHECK(store.authenticate("Basic x").status().is(Status::Code::unauthenticated));
  TokenParts forged = t;
  forged.secret[0] = forged.secret[0] == 'A' ? 'B' : 'A';
  CHECK(store.authenticate("Bearer " + token_text(forged)).status().is(Status::Code::unauthenticated));

  // An older table (a push that crossed a newer one) changes nothing; a newer one revokes.
  CHECK_FALSE(store.update(1, {}));
  CHECK(store.authenticate(header).ok());
  REQUIRE(store.update(3, {}));
  auto revoked = store.authenticate(header);
  CHECK(revoked.status().is(Status::Code::unauthenticated));
  CHECK(revoked.status().message().find(t.id) != std::string::npos);
  CHECK(revoked.status().message().find(t.secret) == std::string::npos);
}

TEST_CASE("token store: the node-local token works before and whatever the table says",
          "[auth]") {
  TokenStore store;
  const TokenParts local = generate_token();
  store.set_local(local, "node-local n1");
  auto who = store.authenticate("Bearer " + token_text(local));
  REQUIRE(who.ok());  // no table yet
  CHECK(who->local);
  CHECK(allows(who->scopes, {Access::Kind::admin, ""}));
  REQUIRE(store.update(5, {}));  // a table without it
  CHECK(store.authenticate("Bearer " + token_text(local)).ok());
  TokenParts forged = local;
  forged.secret[5] = forged.secret[5] == 'x' ? 'y' : 'x';
  CHECK(store.authenticate("Bearer " + token_text(forged)).status().is(Status::Code::unauthenticated));
}

TEST_CASE("api access: the policy opens, narrows and closes the routes it names", "[auth]") {
  HttpRouter router;
  auto noop = [](const HttpRequest&, std::shared_ptr<HttpResponder>) {};
  for (const auto& [m, p] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/ui/{file}"}, {"GET", "/v1/health"}, {"GET", "/metrics"},
           {"POST", "/v1/apps/{app}/deploy"}, {"GET", "/v1/apps/{app}/config"},
           {"DELETE", "/v1/apps/{app}"}, {"GET", "/v1/apps"}, {"POST", "/v1/apps"},
           {"GET", "/v1/keys"}, {"GET", "/v1/tokens"}}) {
    router.add(m, p, noop);
  }
  auto tokens = std::make_shared<TokenStore>();
  apply_access_policy(router, {tokens, /*open_health=*/true, /*open_metrics=*/false});
  auto need = [&](const std::string& method, const std::string& path) {
    auto m = router.match(method, path);
    REQUIRE(m.options != nullptr);
    HttpRequest req;
    req.method = method;
    req.params = m.params;
    return required_access(req, *m.options);
  };
  using K = Access::Kind;
  CHECK(need("GET", "/ui/app.js").kind == K::open);
  CHECK(need("GET", "/v1/health").kind == K::open);
  CHECK(need("GET", "/metrics").kind == K::read);  // closed by the option
  CHECK(need("POST", "/v1/apps/web/deploy").kind == K::deploy);
  CHECK(need("POST", "/v1/apps/web/deploy").app == "web");
  CHECK(need("GET", "/v1/apps/web/config").kind == K::deploy);  // config vars are secrets
  CHECK(need("DELETE", "/v1/apps/web").kind == K::admin);      // destroying stays admin's
  CHECK(need("GET", "/v1/apps").kind == K::read);
  CHECK(need("POST", "/v1/apps").kind == K::admin);
  CHECK(need("GET", "/v1/keys").kind == K::admin);
  CHECK(need("GET", "/v1/tokens").kind == K::admin);
}

TEST_CASE("api access: the authorizer answers 401, 403, or lets through with an identity",
          "[auth]") {
  auto tokens = std::make_shared<TokenStore>();
  const TokenParts web = generate_token();
  TokenTable table;
  table[web.id] = {hash_secret(web.secret), *parse_scopes({"deploy:web"}), "ci"};
  REQUIRE(tokens->update(1, table));
  RouteOptions deploy;
  deploy.access = Access::Kind::deploy;
  auto check = [&](bool peer, const std::string& app, const std::string& header) {
    HttpRequest req;
    req.method = "POST";
    req.path = "/v1/apps/" + app + "/deploy";
    req.params["app"] = app;
    if (!header.empty()) req.headers.emplace_back("Authorization", header);
    Status s = make_authorizer(tokens, peer)(req, deploy);
    return std::make_pair(s, req.identity);
  };
  const std::string good = "Bearer " + token_text(web);
  CHECK(check(false, "web", good).first.ok());
  CHECK(check(false, "web", good).second == "ci (" + web.id + ")");
  CHECK(check(false, "api", good).first.is(Status::Code::permission_denied));
  CHECK(check(false, "web", "").first.is(Status::Code::unauthenticated));
  // The node-to-node listener: a node's own call has no header; a forwarded one is checked.
  CHECK(check(true, "web", "").first.ok());
  CHECK(check(true, "api", good).first.is(Status::Code::permission_denied));
}
