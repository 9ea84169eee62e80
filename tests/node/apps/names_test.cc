// Tests of node/apps/names and group_ids: the naming rules and the group id layout.
#include "node/apps/names.h"

#include <catch2/catch.hpp>

#include "node/apps/group_ids.h"

using namespace shoal;
using namespace shoal::node::apps;

TEST_CASE("app names are DNS labels", "[apps][names]") {
  for (const std::string& good :
       std::vector<std::string>{"a", "hello", "my-app-2", "0abc", std::string(63, 'x')}) {
    CHECK(validate_app_name(good).ok());
  }
  for (const std::string& bad : std::vector<std::string>{"", "-a", "a-", "Hello", "a_b", "a.b",
                                                         "héllo", std::string(64, 'x')}) {
    Status s = validate_app_name(bad);
    CHECK(s.is(Status::Code::invalid_argument));
    CHECK_THAT(s.message(), Catch::Contains("DNS label"));
    if (!bad.empty()) CHECK_THAT(s.message(), Catch::Contains("'" + bad + "'"));
  }
  CHECK_THAT(validate_service_name("DB").message(), Catch::StartsWith("service name 'DB'"));
}

TEST_CASE("process types", "[apps][names]") {
  for (const char* good : {"web", "worker_2", "a-b", "x"}) CHECK(validate_process_type(good).ok());
  for (const std::string& bad :
       std::vector<std::string>{"", "2web", "Web", "we b", "_web", std::string(31, 'a')}) {
    Status s = validate_process_type(bad);
    CHECK(s.is(Status::Code::invalid_argument));
    CHECK_THAT(s.message(), Catch::Contains("'" + bad + "'") && Catch::Contains("a-z"));
  }
}

TEST_CASE("config var keys", "[apps][names]") {
  for (const char* good : {"DATABASE_URL", "_x", "a1", "PORTAL", "SHOAL"}) {
    CHECK(validate_config_key(good).ok());
  }
  for (const char* bad : {"", "1A", "A-B", "A B", "Ä"}) {
    CHECK_THAT(validate_config_key(bad).message(), Catch::Contains("[A-Za-z_]"));
  }
  CHECK_THAT(validate_config_key("PORT").message(), Catch::Contains("reserved"));
  CHECK_THAT(validate_config_key("SHOAL_APP").message(),
             Catch::Contains("'SHOAL_APP' is reserved"));
}

TEST_CASE("node and package names", "[apps][names]") {
  CHECK(validate_node_name("node-a.example").ok());
  CHECK_FALSE(validate_node_name("").ok());
  CHECK_FALSE(validate_node_name("a/b").ok());
  CHECK_FALSE(validate_node_name("..").ok());
  CHECK_FALSE(validate_node_name("a\nb").ok());
  for (const char* good : {"libpq5", "g++", "python3.11", "ca-certificates"}) {
    CHECK(validate_package_name(good).ok());
  }
  for (const char* bad : {"", "a", "-x", "Foo", "a b", "libc6:amd64", "x;rm"}) {
    CHECK_THAT(validate_package_name(bad).message(), Catch::Contains("Debian package name"));
  }
}

TEST_CASE("group ids: catalog, apps, and the kv groups below", "[apps][names]") {
  CHECK(kCatalogGroup == 4611686018427387904ull);
  CHECK(app_group(1) == 4611686018427387905ull);
  CHECK(is_app_group(app_group(1)));
  CHECK(is_app_group(app_group(kMaxAppSeq)));
  CHECK_FALSE(is_app_group(kCatalogGroup));
  CHECK_FALSE(is_app_group(1));
  CHECK_FALSE(is_app_group(1ull << 63));
  CHECK(is_catalog_group(kCatalogGroup));
  CHECK_FALSE(is_catalog_group(app_group(3)));
  CHECK(app_seq(app_group(42)) == 42);
  CHECK(app_seq(5) == 0);
}

TEST_CASE("domains: lower-cased, DNS labels, no IP address", "[apps][names][routes]") {
  CHECK(*normalize_domain("WWW.Example.COM") == "www.example.com");
  CHECK(*normalize_domain("example.com.") == "example.com");  // one trailing dot, absolute
  CHECK(*normalize_domain("localhost") == "localhost");
  CHECK(*normalize_domain("a-b.c0.io") == "a-b.c0.io");
  CHECK(*normalize_domain("1.example.com") == "1.example.com");
  CHECK(normalize_domain(std::string(63, 'a') + ".io").ok());
  const std::string long_ok = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                              std::string(63, 'c') + "." + std::string(61, 'd');
  REQUIRE(long_ok.size() == 253);
  CHECK(normalize_domain(long_ok).ok());

  auto refused = [](const std::string& host, const std::string& text) {
    auto r = normalize_domain(host);
    INFO(host);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().is(Status::Code::invalid_argument));
    CHECK_THAT(r.status().message(), Catch::Contains(text));
  };
  refused("", "domain is empty");
  refused(".", "domain is empty");
  refused(long_ok + "e", "254 characters long: a host name has at most 253");
  refused(std::string(64, 'a') + ".io", "is not a host name");
  refused("a..b", "'a..b' is not a host name");
  refused(".a.b", "is not a host name");
  refused("a.b..", "is not a host name");
  refused("-a.io", "is not a host name");
  refused("a-.io", "is not a host name");
  refused("a_b.io", "is not a host name");
  refused("a b.io", "is not a host name");
  refused("*.example.com", "is not a host name");
  refused("example.com:80", "is not a host name");
  refused("[::1]", "is not a host name");
  refused("10.0.0.1", "'10.0.0.1' looks like an IP address");
  refused("1234", "looks like an IP address");
}
