// node/http_api.h
//
// HttpApi: the node's one way in — the /v1 HTTP/JSON API (docs/api.md), served with
// cpp-httplib on its own threads.
//
// Contract:
//  - Handlers run on httplib's worker threads and reach the agent only through
//    AgentControl (which posts onto the agent's loop and waits, bounded); they never touch
//    the gossip core.
//  - Every error is JSON {"error": "..."} naming the problem, with the status that fits:
//    400 bad input (bad JSON names the parse error), 404 unknown path or node, 405 known
//    path with the wrong method (with an Allow header), 413 body over the limit, 502 when
//    no peer of a join answered, 503 when the agent is leaving, stopped or too slow.
//  - start() binds before returning (io_error naming the address if it cannot); stop()
//    (or the destructor) closes the listener and waits for in-flight requests.
//  - `agent` must outlive the HttpApi.
#pragma once

#include <cstddef>
#include <memory>

#include "base/status.h"
#include "gossip/address.h"
#include "node/agent_control.h"

namespace shoal::node {

inline constexpr size_t kHttpBodyLimit = 1024 * 1024;

class HttpApi {
 public:
  static Result<std::unique_ptr<HttpApi>> start(const gossip::Address& listen,
                                                AgentControl& agent);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  void stop();

  struct Impl;

 private:
  explicit HttpApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::node
