#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "base/check.h"
#include "node/http_server.h"

namespace shoal::node {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// "/a/b/" -> {"a", "b", ""}: a trailing slash is a distinct (empty) segment, so
// "/v1/members/" does not silently alias "/v1/members".
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  size_t start = 1;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

// A pattern segment "{name}", or "{name}SUFFIX" ("{app}.git"): a path segment matches it
// when it ends with SUFFIX, and the parameter is what comes before.
struct ParamSegment {
  std::string_view name;
  std::string_view suffix;
};

std::optional<ParamSegment> as_param(std::string_view segment) {
  if (segment.size() < 3 || segment.front() != '{') return std::nullopt;
  const size_t close = segment.find('}');
  if (close == std::string_view::npos || close < 2) return std::nullopt;
  return ParamSegment{segment.substr(1, close - 1), segment.substr(close + 1)};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

std::optional<std::string> HttpRequest::query_value(const std::string& key) const {
  auto it = query.find(key);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> HttpRequest::query_values(const std::string& key) const {
  std::vector<std::string> out;
  auto [lo, hi] = query.equal_range(key);
  for (auto it = lo; it != hi; ++it) out.push_back(it->second);
  return out;
}

void HttpRouter::add(std::string method, std::string pattern, HttpHandler handler,
                     RouteOptions options) {
  Route route;
  route.method = std::move(method);
  for (auto seg : split_path(pattern)) route.segments.emplace_back(seg);
  SHOAL_CHECK(!route.segments.empty(), "route pattern must start with /");
  for (const auto& r : routes_) {
    SHOAL_CHECK(!(r.method == route.method && r.segments == route.segments), "route added twice");
  }
  route.handler = std::move(handler);
  route.options = options;
  routes_.push_back(std::move(route));
}

HttpRouter::Match HttpRouter::match(const std::string& method, const std::string& path) const {
  Match m;
  const auto segments = split_path(path);
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (size_t i = 0; i < segments.size() && ok; ++i) {
      const auto& want = route.segments[i];
      if (auto param = as_param(want)) {
        auto value = percent_decode(segments[i], /*plus_is_space=*/false);
        const size_t n = param->suffix.size();
        if (!value || value->size() <= n || value->compare(value->size() - n, n, param->suffix) != 0) {
          ok = false;
        } else {
          value->resize(value->size() - n);
          params[std::string(param->name)] = std::move(*value);
        }
      } else {
        ok = (want == segments[i]);
      }
    }
    if (!ok) continue;
    if (route.method == method) {
      m.handler = &route.handler;
      m.options = &route.options;
      m.params = std::move(params);
      m.allowed.clear();
      return m;
    }
    if (std::find(m.allowed.begin(), m.allowed.end(), route.method) == m.allowed.end()) {
      m.allowed.push_back(route.method);
    }
  }
  std::sort(m.allowed.begin(), m.allowed.end());
  return m;
}

bool HttpRouter::set_access(std::string_view method, std::string_view pattern,
                            auth::Access::Kind access) {
  std::vector<std::string> segments;
  for (auto seg : split_path(pattern)) segments.emplace_back(seg);
  for (auto& r : routes_) {
    if (r.method == method && r.segments == segments) {
      r.options.access = access;
      return true;
    }
  }
  return false;
}

std::vector<HttpRouter::RouteInfo> HttpRouter::routes() const {
  std::vector<RouteInfo> out;
  for (const auto& r : routes_) {
    std::string pattern;
    for (const auto& seg : r.segments) pattern += "/" + seg;
    out.push_back({r.method, pattern.empty() ? "/" : pattern, r.options});
  }
  return out;
}

size_t HttpRouter::max_body_limit() const {
  size_t most = kDefaultHttpBodyLimit;
  for (const auto& r : routes_) most = std::max(most, r.options.body_limit);
  return most;
}

size_t HttpRouter::body_limit(const std::string& method, const std::string& path) const {
  auto m = match(method, path);
  return m.options ? m.options->body_limit : kDefaultHttpBodyLimit;
}

auth::Access required_access(const HttpRequest& req, const RouteOptions& options) {
  auth::Access need;
  if (options.access) {
    need.kind = *options.access;
  } else {
    need.kind = req.method == "GET" || req.method == "HEAD" ? auth::Access::Kind::read
                                                            : auth::Access::Kind::admin;
  }
  if (need.kind == auth::Access::Kind::deploy) {
    auto it = req.params.find(options.app_param);
    // A deploy route without its app parameter is a routing bug: only admins pass.
    if (it == req.params.end()) {
      need.kind = auth::Access::Kind::admin;
    } else {
      need.app = it->second;
    }
  }
  return need;
}

HttpRouter HttpRouter::without_prefix(std::string_view prefix) const {
  HttpRouter out;
  for (const auto& r : routes_) {
    std::string pattern;
    for (const auto& seg : r.segments) pattern += "/" + seg;
    if (pattern.rfind(prefix, 0) != 0) out.routes_.push_back(r);
  }
  return out;
}

}  // namespace shoal::node
