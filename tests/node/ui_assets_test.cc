// The dashboard's files as the agent serves them (node/ui_assets.h): built in, revalidated
// with ETags, under a policy that allows only this origin, and self-contained: every file
// a page or module names is in the binary, and nothing is loaded from elsewhere.
#include <catch2/catch.hpp>

#include <regex>
#include <set>

#include "node/http_client.h"
#include "node/http_server.h"
#include "node/ui_assets.h"

using namespace shoal;
using namespace shoal::node;

namespace {

struct UiServer {
  UiServer() {
    HttpRouter router;
    add_ui_routes(router);
    auto started = HttpServer::start(*gossip::Address::parse("127.0.0.1", 0), std::move(router));
    REQUIRE(started.ok());
    server = std::move(*started);
  }
  HttpResponse get(const std::string& target, const std::string& if_none_match = "") {
    HttpExchange ex;
    ex.target = target;
    ex.timeout = std::chrono::seconds(5);
    if (!if_none_match.empty()) ex.headers.emplace("If-None-Match", if_none_match);
    auto r = http_request("127.0.0.1", server->address().port, ex);
    if (!r.ok()) FAIL(target + ": " + r.status().to_string());
    return *r;
  }
  std::unique_ptr<HttpServer> server;
};

// Every relative file a text asset refers to: src/href attributes, module imports, url().
std::set<std::string> references(std::string_view text) {
  static const std::regex re(R"re((?:src|href)="([^"#:]+)"|from '\./([^']+)'|url\(([^):]+)\))re");
  std::set<std::string> out;
  const std::string s(text);
  for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it) {
    for (size_t g = 1; g <= 3; ++g) {
      if ((*it)[g].matched) out.insert((*it)[g].str());
    }
  }
  return out;
}

}  // namespace

TEST_CASE("ui: index, files and redirects are served from the binary", "[ui]") {
  UiServer s;
  auto index = s.get("/ui/");
  CHECK(index.status == 200);
  CHECK(index.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(index.body == std::string(find_ui_asset("index.html")->body));
  const std::string csp = index.header("Content-Security-Policy");
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(index.header("X-Content-Type-Options") == "nosniff");

  auto js = s.get("/ui/app.js");
  CHECK(js.status == 200);
  CHECK(js.header("Content-Type") == "text/javascript; charset=utf-8");
  CHECK(s.get("/ui/style.css").header("Content-Type") == "text/css; charset=utf-8");
  CHECK(s.get("/ui/favicon.svg").header("Content-Type") == "image/svg+xml");

  auto bare = s.get("/ui");
  CHECK(bare.status == 301);
  CHECK(bare.header("Location") == "/ui/");
  auto root = s.get("/");
  CHECK(root.status == 302);
  CHECK(root.header("Location") == "/ui/");
}

TEST_CASE("ui: an unchanged file is a 304 by its ETag", "[ui]") {
  UiServer s;
  auto first = s.get("/ui/app.js");
  const std::string etag = first.header("ETag");
  REQUIRE(etag.size() > 2);
  CHECK(first.header("Cache-Control") == "no-cache");
  auto again = s.get("/ui/app.js", etag);
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  CHECK(s.get("/ui/app.js", "\"other\", W/" + etag).status == 304);
  CHECK(s.get("/ui/app.js", "\"other\"").status == 200);
  // Another file's tag is not this one's.
  CHECK(s.get("/ui/style.css", etag).status == 200);
}

TEST_CASE("ui: names outside the embedded set are 404, never the file system", "[ui]") {
  UiServer s;
  for (const char* target : {"/ui/nope.js", "/ui/..%2F..%2Fetc%2Fpasswd", "/ui/%2e%2e",
                             "/ui/sub/app.js", "/ui/APP.JS", "/ui/index.html%00.js"}) {
    INFO(target);
    auto r = s.get(target);
    CHECK(r.status == 404);
    CHECK(r.body.find("error") != std::string::npos);
  }
  CHECK(s.get("/ui/index.html").status == 200);
}

TEST_CASE("ui: every file a page or module names is embedded, and none is remote", "[ui]") {
  std::set<std::string> names;
  for (const auto& a : ui_assets()) names.insert(std::string(a.name));
  for (const char* want : {"index.html", "app.js", "style.css", "favicon.svg"}) {
    CHECK(names.count(want) == 1);
  }
  // The scan itself finds what index.html and app.js name (else the loop below proves nothing).
  const auto index_refs = references(find_ui_asset("index.html")->body);
  CHECK(index_refs.count("app.js") == 1);
  CHECK(index_refs.count("style.css") == 1);
  CHECK(references(find_ui_asset("app.js")->body).count("api.js") == 1);
  for (const auto& a : ui_assets()) {
    INFO(a.name);
    CHECK(!a.body.empty());
    for (const auto& ref : references(a.body)) {
      INFO(ref);
      CHECK(names.count(ref) == 1);
    }
    // No CDN, no fonts from elsewhere: the dashboard works with no network at all. (The
    // SVG namespace is a name, not a URL anything loads.)
    const std::string body =
        std::regex_replace(std::string(a.body), std::regex("http://www\\.w3\\.org/2000/svg"), "");
    CHECK(body.find("https://") == std::string::npos);
    CHECK(body.find("http://") == std::string::npos);
  }
}
