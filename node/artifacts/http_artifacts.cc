#include "node/artifacts/http_artifacts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "node/http_util.h"

namespace shoal::node {

namespace {

struct Range {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive; UINT64_MAX when open-ended
};

// "bytes=N-" or "bytes=N-M"; nullopt for anything else (then the whole blob is sent).
std::optional<Range> parse_range(const std::string& text) {
  constexpr std::string_view kPrefix = "bytes=";
  if (text.rfind(kPrefix, 0) != 0) return std::nullopt;
  const std::string_view spec = std::string_view(text).substr(kPrefix.size());
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos || dash == 0 || spec.find(',') != std::string_view::npos) {
    return std::nullopt;
  }
  Range r;
  auto [p1, e1] = std::from_chars(spec.data(), spec.data() + dash, r.first);
  if (e1 != std::errc() || p1 != spec.data() + dash) return std::nullopt;
  const std::string_view tail = spec.substr(dash + 1);
  if (tail.empty()) {
    r.last = UINT64_MAX;
  } else {
    auto [p2, e2] = std::from_chars(tail.data(), tail.data() + tail.size(), r.last);
    if (e2 != std::errc() || p2 != tail.data() + tail.size() || r.last < r.first) return std::nullopt;
  }
  return r;
}

}  // namespace

void serve_artifact(const HttpRequest& req, HttpResponder& responder, ArtifactStore& store) {
  const auto it = req.params.find("digest");
  const std::string digest = it == req.params.end() ? "" : it->second;
  if (Status s = check_digest(digest); !s.ok()) return reply_status(responder, s);
  UniqueFd fd(::open(store.path(digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.open()) {
    if (errno == ENOENT) return reply_error(responder, 404, "no artifact " + digest + " here");
    return reply_error(responder, 500, "cannot open artifact " + digest + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return reply_error(responder, 500, "cannot stat artifact " + digest);
  const auto size = static_cast<uint64_t>(st.st_size);

  int status = 200;
  uint64_t first = 0, last = size ? size - 1 : 0;
  HttpHeaders headers = {{"Accept-Ranges", "bytes"}};
  if (auto range_text = req.header("Range")) {
    if (auto r = parse_range(*range_text)) {
      if (r->first >= size) {
        headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
        return responder.reply(416, R"({"error": "range starts past the end of the artifact"})",
                               "application/json", std::move(headers));
      }
      status = 206;
      first = r->first;
      last = std::min(r->last, size - 1);
      headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" +
                                                std::to_string(last) + "/" + std::to_string(size));
    }
  }
  const uint64_t length = size == 0 ? 0 : last - first + 1;
  // Blobs are immutable once in the store, so the size stat() saw is the size sent.
  responder.reply_file(status, std::move(fd), first, length, "application/octet-stream",
                       std::move(headers));
}

void add_artifact_routes(HttpRouter& router, ArtifactStore& store) {
  for (const char* method : {"GET", "HEAD"}) {
    router.add(method, "/v1/internal/artifacts/{digest}",
               [&store](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
                 serve_artifact(req, *r, store);
               });
  }
}

}  // namespace shoal::node
