#include "node/api_client.h"

#include <charconv>
#include <optional>

namespace shoal::node {
namespace {

Status status_for_http(int status, const std::string& message) {
  switch (status) {
    case 400:
    case 405:
    case 413: return Status::invalid_argument(message);
    case 404: return Status::not_found(message);
    case 409: return Status::failed_precondition(message);
    case 401: return Status::unauthenticated(message);
    case 403: return Status::permission_denied(message);
    case 429: return Status::resource_exhausted(message);
    case 502:
    case 503: return Status::unavailable(message);
    case 504: return Status::timeout(message);
    default: return Status::internal(message);
  }
}

}  // namespace

ApiClient::ApiClient(std::string host, int port, bool tls, Duration timeout)
    : host_(std::move(host)), port_(port), tls_(tls), timeout_(timeout) {
  const bool v6 = host_.find(':') != std::string::npos;
  base_url_ = std::string(tls_ ? "https://" : "http://") + (v6 ? "[" + host_ + "]" : host_) +
              ":" + std::to_string(port_);
}

HttpExchange ApiClient::exchange(const std::string& method,
                                 const std::string& path_and_query) const {
  HttpExchange ex;
  ex.method = method;
  ex.target = path_and_query;
  ex.timeout = timeout_;
  if (!token_.empty()) ex.headers.emplace("Authorization", "Bearer " + token_);
  if (tls_) ex.tls = tls_options_ ? tls_options_ : std::make_shared<TlsClientOptions>();
  return ex;
}

Result<ApiClient> ApiClient::create(std::string_view base, Duration timeout) {
  std::string_view rest = base;
  std::optional<bool> tls;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
    tls = false;
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
    tls = true;
  } else if (rest.find("://") != std::string_view::npos) {
    return Status::invalid_argument("agent address '" + std::string(base) +
                                    "': only http:// and https:// are supported");
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) {
    return Status::invalid_argument("agent address '" + std::string(base) +
                                    "' must be http://HOST:PORT, without a path");
  }
  std::string host;
  std::string_view port_text;
  if (rest.starts_with("[")) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) {
      return Status::invalid_argument("agent address '" + std::string(base) + "': missing ']'");
    }
    host = std::string(rest.substr(1, close - 1));
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') {
        return Status::invalid_argument("agent address '" + std::string(base) +
                                        "': expected ':' after ']'");
      }
      port_text = rest.substr(close + 2);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
  } else {
    host = std::string(rest);
  }
  int port = 8080;
  if (!port_text.empty()) {
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port <= 0 ||
        port > 65535) {
      return Status::invalid_argument("agent address '" + std::string(base) + "': bad port '" +
                                      std::string(port_text) + "'");
    }
  }
  if (host.empty()) {
    return Status::invalid_argument("agent address '" + std::string(base) + "' has no host");
  }
  if (!tls) {
    // The agent speaks TLS whenever its API is reachable from elsewhere.
    const bool loopback = host == "localhost" || host == "::1" || host.starts_with("127.");
    tls = !loopback;
  }
  return ApiClient(std::move(host), port, *tls, timeout);
}

std::string ApiClient::url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Status ApiClient::unreachable(const Status& failure, const std::string& hint) const {
  // http_request's own failures start "cannot reach HOST:PORT: "; anything else (an upload
  // reader's error) is passed on as it is.
  const std::string prefix = "cannot reach " + host_ + ":" + std::to_string(port_) + ": ";
  if (!failure.message().starts_with(prefix)) return failure;
  // Say it in the agent's terms: its URL, then what failed.
  return Status::unavailable("cannot reach the agent at " + base_url_ + ": " +
                             failure.message().substr(prefix.size()) + hint);
}

Result<HttpResponse> ApiClient::send(const std::string& method, const std::string& path_and_query,
                                     const std::string& body,
                                     const std::string& content_type) const {
  HttpExchange ex = exchange(method, path_and_query);
  ex.body = body;
  ex.content_type = content_type;
  auto res = http_request(host_, port_, ex);
  if (!res.ok()) return unreachable(res.status(), " (is `shoal agent` running there?)");
  return res;
}

Result<HttpResponse> ApiClient::stream(const std::string& method,
                                       const std::string& path_and_query,
                                       const std::string& body, const std::string& content_type,
                                       std::function<bool(std::string_view)> on_body,
                                       std::function<bool(const HttpResponse&)> on_headers) const {
  HttpExchange ex = exchange(method, path_and_query);
  ex.body = body;
  if (!content_type.empty()) ex.content_type = content_type;
  ex.on_body = std::move(on_body);  // an error answer's JSON body arrives there too
  ex.on_headers = std::move(on_headers);
  auto res = http_request(host_, port_, ex);
  if (!res.ok()) return unreachable(res.status(), "");
  return res;
}

Result<HttpResponse> ApiClient::upload(const std::string& method,
                                       const std::string& path_and_query, uint64_t size,
                                       std::function<Result<size_t>(std::span<char>)> reader,
                                       std::function<void(uint64_t)> on_sent,
                                       const std::string& content_type,
                                       std::function<bool(std::string_view)> on_body,
                                       std::function<bool(const HttpResponse&)> on_headers) const {
  HttpExchange ex = exchange(method, path_and_query);
  ex.content_type = content_type;
  ex.body_reader = std::move(reader);
  ex.body_size = size;
  ex.on_body_sent = std::move(on_sent);
  ex.on_body = std::move(on_body);
  ex.on_headers = std::move(on_headers);
  auto res = http_request(host_, port_, ex);
  if (!res.ok()) return unreachable(res.status(), "");
  return res;
}

Result<nlohmann::json> ApiClient::call(const std::string& method, const std::string& path,
                                       const QueryParams& query,
                                       const nlohmann::json* body) const {
  std::string target = path;
  for (size_t i = 0; i < query.size(); ++i) {
    target += (i == 0 ? '?' : '&');
    target += url_encode(query[i].first) + "=" + url_encode(query[i].second);
  }
  auto res = send(method, target, body ? body->dump() : std::string());
  if (!res.ok()) return res.status();
  auto json = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (res->status >= 400) {
    std::string message;
    if (!json.is_discarded() && json.is_object() && json.contains("error") &&
        json["error"].is_string()) {
      message = json["error"].get<std::string>();
    } else {
      message = "HTTP " + std::to_string(res->status) + " from " + base_url_ + path;
    }
    return status_for_http(res->status, message);
  }
  if (json.is_discarded()) {
    return Status::corruption("the agent at " + base_url_ + " answered " + path +
                              " with something that is not JSON");
  }
  return json;
}

}  // namespace shoal::node
