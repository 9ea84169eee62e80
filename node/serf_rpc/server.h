// node/serf_rpc/server.h
//
// SerfRpcServer: Serf's agent RPC on `shoal agent --rpc-serf ADDR:PORT`, so the stock
// `serf` CLI (`serf members -rpc-addr=...`) and Serf client libraries drive a Shoal agent.
// Framing: codec.h; commands: commands.h and session.cc; docs/serf-rpc.md.
//
// Threads: one IO thread runs the listener and every connection; requests that need the
// agent run on a small worker pool (AgentControl calls block, bounded). Each connection
// answers its requests one at a time and in order, as serf does, while its streams
// (stream, monitor, query) push records between answers; all writes of a connection go
// through one queue on the IO thread, so frames never interleave.
//
// Contract:
//  - start() binds before returning (io_error naming the address if it cannot).
//  - A client that stops reading is dropped once `write_queue_limit` bytes are queued for
//    it; nothing is buffered without bound. Bad input (malformed msgpack, an unknown
//    command, a value over `max_value_bytes`) gets serf's error reply where there is a seq
//    to answer, is logged, and closes that connection; it never affects another.
//  - stop() stops accepting, lets answers in flight (e.g. to `leave`) go out for up to
//    `linger`, then closes every connection and waits for the workers. The destructor
//    calls it. `agent` must outlive the server.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "base/time.h"
#include "gossip/address.h"
#include "node/agent_control.h"

namespace shoal::node {

struct SerfRpcOptions {
  std::string auth_key;  // serf's -rpc-auth: empty means no `auth` is needed
  int worker_threads = 4;
  size_t max_connections = 256;
  size_t write_queue_limit = 4 * 1024 * 1024;
  size_t max_value_bytes = 1024 * 1024;
  Duration linger = std::chrono::seconds(2);
};

class SerfRpcServer {
 public:
  static Result<std::unique_ptr<SerfRpcServer>> start(const gossip::Address& listen,
                                                      AgentControl& agent,
                                                      SerfRpcOptions options = {});
  ~SerfRpcServer();
  SerfRpcServer(const SerfRpcServer&) = delete;
  SerfRpcServer& operator=(const SerfRpcServer&) = delete;

  gossip::Address address() const;
  void stop();

  struct Impl;

 private:
  explicit SerfRpcServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace shoal::node
