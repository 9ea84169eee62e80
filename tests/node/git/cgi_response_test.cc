// CgiResponse (node/git/cgi_response.h): what git http-backend writes, split into its
// head and its body however the pipe cuts it.
#include <catch2/catch.hpp>

#include <string>

#include "node/git/cgi_response.h"

using shoal::node::git::CgiResponse;

namespace {

// Feeds `out` in pieces of `step` bytes; returns the body that came out.
std::string feed_all(CgiResponse& cgi, const std::string& out, size_t step) {
  std::string body;
  for (size_t at = 0; at < out.size(); at += step) {
    auto got = cgi.feed(std::string_view(out).substr(at, step));
    REQUIRE(got.ok());
    body += *got;
  }
  return body;
}

}  // namespace

TEST_CASE("cgi response: head and body, however the output is cut", "[git]") {
  const std::string out =
      "Expires: Fri, 01 Jan 1980 00:00:00 GMT\r\nPragma: no-cache\r\n"
      "Content-Type: application/x-git-receive-pack-advertisement\r\n\r\n001f# service=git\n0000";
  for (size_t step : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, out.size()}) {
    CgiResponse cgi;
    CHECK(feed_all(cgi, out, step) == "001f# service=git\n0000");
    CHECK(cgi.headers_done());
    CHECK(cgi.status() == 200);
    CHECK(cgi.content_type() == "application/x-git-receive-pack-advertisement");
    REQUIRE(cgi.headers().size() == 2);
    CHECK(cgi.headers()[1] == std::make_pair(std::string("Pragma"), std::string("no-cache")));
  }
}

TEST_CASE("cgi response: a Status header, bare newlines, and broken heads", "[git]") {
  CgiResponse forbidden;
  CHECK(feed_all(forbidden, "Status: 403 Forbidden\nContent-Type: text/plain\n\nno", 5) == "no");
  CHECK(forbidden.status() == 403);

  CgiResponse empty_body;
  CHECK(feed_all(empty_body, "Status: 204 No Content\n\n", 1).empty());
  CHECK(empty_body.headers_done());

  CgiResponse no_name;
  CHECK_FALSE(no_name.feed("this is not a header\n\nbody").ok());
  CgiResponse bad_status;
  CHECK_FALSE(bad_status.feed("Status: teapot\n\n").ok());
  CgiResponse endless;
  CHECK_FALSE(endless.feed(std::string(CgiResponse::kMaxHeaderBytes + 1, 'x')).ok());
}
