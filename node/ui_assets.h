// node/ui_assets.h
//
// The web dashboard's static files (ui/), compiled into the agent by
// cmake/embed_files.cmake, and the routes that serve them:
//   GET /        302 to /ui/
//   GET /ui      301 to /ui/ (the pages use relative URLs)
//   GET /ui/     index.html
//   GET /ui/F    the file F of ui/ (flat: no sub-folders), 404 for any other name
//
// Contract: every answer carries a strong ETag (a hash of the bytes) and
// Cache-Control: no-cache, so a browser revalidates and gets a 304 for an unchanged file;
// a Content-Security-Policy that allows only this origin (no inline script, no CDN), and
// nosniff. The dashboard reads only the public /v1 API.
#pragma once

#include <span>
#include <string_view>

namespace shoal::node {

class HttpRouter;

struct UiAsset {
  std::string_view name;  // "app.js"
  std::string_view body;
  std::string_view etag;  // quoted, as sent: "\"3f2a...\""
};

// Sorted by name. Defined in the generated ui_assets_data.cc.
std::span<const UiAsset> ui_assets();

// nullptr when there is no such file.
const UiAsset* find_ui_asset(std::string_view name);

// By extension; application/octet-stream for one we do not know.
std::string_view ui_content_type(std::string_view name);

void add_ui_routes(HttpRouter& router);

}  // namespace shoal::node
