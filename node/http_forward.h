// node/http_forward.h
//
// Forwarding: every node serves the whole API (DESIGN.md "One way in") and hands what
// another node owns — the catalog leader, an app's leader — to that node unchanged.
//
// Contract:
//  - forward_request() blocks the calling worker for the upstream exchange and relays its
//    status, content type and body; a chunked upstream answer (NDJSON, SSE) is relayed
//    piece by piece as it arrives and stops when the client goes away.
//  - Each hop adds one to X-Shoal-Hops; past kMaxForwardHops the request is refused with
//    508, so a stale view on two nodes can never bounce a request forever.
//  - An unreachable upstream is 503 naming it; nothing is retried (the caller decides).
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "base/time.h"
#include "node/http_client.h"
#include "node/http_server.h"

namespace shoal::node {

inline constexpr int kMaxForwardHops = 3;
inline constexpr const char* kHopsHeader = "X-Shoal-Hops";

int forward_hops(const HttpRequest& req);

// `addr` is "IP:PORT" of the node's --rpc listener, which serves the whole HTTP API to
// peers. `timeout` bounds the connect and the wait for each piece of the answer.
void forward_request(const HttpRequest& req, const std::shared_ptr<HttpResponder>& res,
                     const std::string& addr, Duration timeout = std::chrono::seconds(60));

}  // namespace shoal::node

namespace shoal::node {

// One node-to-node call: `method target` on the node whose --rpc listener is `addr` ("IP:PORT"),
// with a JSON body when `body` is not null. Only transport failures are errors.
Result<HttpResponse> call_node(const std::string& addr, const std::string& method,
                               const std::string& target, const nlohmann::json* body,
                               Duration timeout);

}  // namespace shoal::node
