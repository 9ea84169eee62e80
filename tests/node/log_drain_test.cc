// Tests of node/log_drain: drain URLs checked and named in errors, and the RFC 5424 message
// a line becomes.
#include "node/log_drain.h"

#include <catch2/catch.hpp>

using namespace shoal::node;

TEST_CASE("log drains: URLs of the three kinds, and bad ones named", "[node][logs][drains]") {
  auto tcp = parse_drain_url("syslog+tcp://logs.example.com:6514");
  REQUIRE(tcp.ok());
  CHECK(tcp->kind == DrainTarget::Kind::syslog_tcp);
  CHECK(tcp->host == "logs.example.com");
  CHECK(tcp->port == 6514);
  CHECK(parse_drain_url("syslog://10.0.0.5:514")->kind == DrainTarget::Kind::syslog_tcp);
  auto udp = parse_drain_url("syslog+udp://[::1]:514");
  REQUIRE(udp.ok());
  CHECK(udp->kind == DrainTarget::Kind::syslog_udp);
  CHECK(udp->host == "::1");
  auto http = parse_drain_url("http://127.0.0.1:8088/ingest?token=x");
  REQUIRE(http.ok());
  CHECK(http->kind == DrainTarget::Kind::http);
  CHECK(http->path == "/ingest?token=x");
  CHECK(parse_drain_url("http://collector:80")->path == "/");

  const std::pair<const char*, const char*> bad[] = {
      {"logs.example.com:514", "not a URL"},
      {"ftp://h:21", "unknown scheme 'ftp'"},
      {"https://h:443/x", "https is not supported yet"},
      {"syslog://h", "the port is missing"},
      {"syslog://h:0", "the port must be 1 to 65535"},
      {"syslog://h:99999", "the port must be 1 to 65535"},
      {"syslog://:514", "the host is missing"},
      {"syslog://h:514/path", "a syslog drain has no path"},
      {"http://h:80/a b", "the path must be printable"},
      {"syslog://h$x:514", "a character a host name cannot have"},
      {"syslog+udp://[::1:514", "a bad [IPv6]:PORT"},
  };
  for (const auto& [url, why] : bad) {
    auto r = parse_drain_url(url);
    INFO(url);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::StartsWith(std::string("drain '") + url) &&
                                         Catch::Contains(why));
  }
}

TEST_CASE("log drains: a line as an RFC 5424 message", "[node][logs][drains]") {
  supervisor::LogLine out{1796623200250, "web.3f9a1c", "web", "out", "GET / 200"};
  CHECK(syslog_message(out, "blog", "n1") ==
        "<14>1 2026-12-07T06:00:00.250Z n1 blog web.3f9a1c web - GET / 200");
  supervisor::LogLine err{0, "", "web", "err", "boom"};
  // Error severity; an empty field is "-"; a header character outside printable ASCII is '_'.
  CHECK(syslog_message(err, "bl og", "n\x01") == "<11>1 1970-01-01T00:00:00.000Z n_ bl_og - web - boom");
  const std::string long_app(100, 'a');
  CHECK(syslog_message(out, long_app, "n1").find(" " + std::string(48, 'a') + " web.") !=
        std::string::npos);
  CHECK(drain_of_setting_key(drain_setting_key("syslog://h:1")) == "syslog://h:1");
  CHECK(drain_of_setting_key("other").empty());
}
