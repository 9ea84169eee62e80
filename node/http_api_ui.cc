// The dashboard's routes (node/ui_assets.h).
#include <algorithm>
#include <string>

#include "base/check.h"
#include "node/http_server.h"
#include "node/ui_assets.h"

namespace shoal::node {

namespace {

// Only this origin: the dashboard has no inline script or style and loads nothing from
// elsewhere, so an injected <script> in, say, an app's log line cannot run.
constexpr std::string_view kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// If-None-Match may list several tags, or be "*".
bool matches(const std::string& if_none_match, std::string_view etag) {
  if (if_none_match == "*") return true;
  size_t pos = 0;
  while (pos < if_none_match.size()) {
    size_t comma = if_none_match.find(',', pos);
    if (comma == std::string::npos) comma = if_none_match.size();
    std::string_view tag(if_none_match.data() + pos, comma - pos);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);  // weak comparison, as for a GET
    if (tag == etag) return true;
    pos = comma + 1;
  }
  return false;
}

void serve(const UiAsset& asset, const HttpRequest& req, HttpResponder& res) {
  HttpHeaders headers = {{"ETag", std::string(asset.etag)},
                         {"Cache-Control", "no-cache"},
                         {"X-Content-Type-Options", "nosniff"},
                         {"Referrer-Policy", "no-referrer"},
                         {"Content-Security-Policy", std::string(kPolicy)}};
  if (auto tag = req.header("If-None-Match"); tag && matches(*tag, asset.etag)) {
    return res.reply(304, "", std::string(ui_content_type(asset.name)), std::move(headers));
  }
  res.reply(200, std::string(asset.body), std::string(ui_content_type(asset.name)),
            std::move(headers));
}

void redirect(HttpResponder& res, int status, std::string location) {
  res.reply(status, "", "text/plain", {{"Location", std::move(location)}});
}

}  // namespace

const UiAsset* find_ui_asset(std::string_view name) {
  const auto assets = ui_assets();
  auto it = std::find_if(assets.begin(), assets.end(),
                         [&](const UiAsset& a) { return a.name == name; });
  return it == assets.end() ? nullptr : &*it;
}

std::string_view ui_content_type(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  if (name.ends_with(".png")) return "image/png";
  if (name.ends_with(".json")) return "application/json";
  return "application/octet-stream";
}

void add_ui_routes(HttpRouter& router) {
  SHOAL_CHECK(find_ui_asset("index.html") != nullptr, "ui/index.html was not embedded");
  router.add("GET", "/", [](const HttpRequest&, std::shared_ptr<HttpResponder> res) {
    redirect(*res, 302, "/ui/");
  });
  router.add("GET", "/ui", [](const HttpRequest&, std::shared_ptr<HttpResponder> res) {
    redirect(*res, 301, "/ui/");
  });
  router.add("GET", "/ui/", [](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
    serve(*find_ui_asset("index.html"), req, *res);
  });
  router.add("GET", "/ui/{file}", [](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
    const UiAsset* asset = find_ui_asset(req.params.at("file"));
    if (!asset) return reply_error(*res, 404, "no file '" + req.params.at("file") + "' in /ui");
    serve(*asset, req, *res);
  });
}

}  // namespace shoal::node
