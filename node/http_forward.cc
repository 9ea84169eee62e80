#include "node/http_forward.h"

#include <spdlog/spdlog.h>

#include <charconv>

#include "node/http_client.h"
#include "node/secure/node_keys.h"

namespace shoal::node {

int forward_hops(const HttpRequest& req) {
  auto h = req.header(kHopsHeader);
  if (!h) return 0;
  int n = 0;
  auto [ptr, ec] = std::from_chars(h->data(), h->data() + h->size(), n);
  if (ec != std::errc() || ptr != h->data() + h->size() || n < 0) return kMaxForwardHops + 1;
  return n;
}

void forward_request(const HttpRequest& req, const std::shared_ptr<HttpResponder>& res,
                     const std::string& addr, Duration timeout) {
  const int hops = forward_hops(req);
  if (hops >= kMaxForwardHops) {
    return reply_error(*res, 508,
                       "request forwarded " + std::to_string(hops) +
                           " times without reaching its owner (the cluster view is changing; "
                           "try again)");
  }
  const auto colon = addr.rfind(':');
  int port = 0;
  if (colon != std::string::npos) {
    std::from_chars(addr.data() + colon + 1, addr.data() + addr.size(), port);
  }
  if (colon == std::string::npos || port <= 0 || port > 65535) {
    return reply_error(*res, 503, "cannot forward to '" + addr + "': not an IP:PORT address");
  }
  HttpExchange ex;
  ex.method = req.method;
  ex.target = req.target;
  ex.body = req.body;
  if (auto ct = req.header("Content-Type")) ex.content_type = *ct;
  ex.headers.emplace(kHopsHeader, std::to_string(hops + 1));
  // The owner checks the caller's token again: a forwarded request keeps its identity. A
  // node-local token means nothing there: this node, which checked it, vouches instead.
  if (auto a = req.header("Authorization"); a && !req.local_credential) {
    ex.headers.emplace("Authorization", *a);
  }
  ex.timeout = timeout;
  ex.keys = secure::node_keyring();

  bool streaming = false;
  int status = 0;
  std::string content_type;
  std::string body;
  ex.on_headers = [&](const HttpResponse& head) {
    status = head.status;
    content_type = head.header("Content-Type");
    if (content_type.empty()) content_type = "application/json";
    const std::string te = head.header("Transfer-Encoding");
    streaming = te.find("chunked") != std::string::npos;
    if (streaming) res->start_stream(status, content_type);
    return true;
  };
  ex.on_body = [&](std::string_view piece) {
    if (streaming) return res->write(std::string(piece));
    body.append(piece);
    return true;
  };
  auto out = http_request(addr.substr(0, colon), port, ex);
  if (!out.ok()) {
    spdlog::debug("forward-failed target={} path={} reason=\"{}\"", addr, req.path,
                  out.status().message());
    if (streaming) return res->end();
    return reply_error(*res, 503, "cannot reach " + addr + ": " + out.status().message());
  }
  if (streaming) return res->end();
  res->reply(status, std::move(body), content_type);
}

}  // namespace shoal::node

namespace shoal::node {

Result<HttpResponse> call_node(const std::string& addr, const std::string& method,
                               const std::string& target, const nlohmann::json* body,
                               Duration timeout) {
  const auto colon = addr.rfind(':');
  int port = 0;
  if (colon != std::string::npos) {
    std::from_chars(addr.data() + colon + 1, addr.data() + addr.size(), port);
  }
  if (colon == std::string::npos || port <= 0 || port > 65535) {
    return Status::invalid_argument("'" + addr + "' is not an IP:PORT address");
  }
  HttpExchange ex;
  ex.method = method;
  ex.target = target;
  if (body) ex.body = body->dump();
  ex.timeout = timeout;
  ex.keys = secure::node_keyring();
  auto res = http_request(addr.substr(0, colon), port, ex);
  if (!res.ok()) return res.status().with_context(method + " " + target + " on " + addr);
  return res;
}

}  // namespace shoal::node
