// node/serf_rpc/session.h (internal to the Serf RPC server)
//
// Session: one client connection of Serf's agent RPC. Reads requests through a
// RequestDecoder, answers them one at a time in order (commands that block on the agent
// run on the server's worker pool meanwhile), and keeps the connection's streams: event
// streams (`stream`), the log monitor (`monitor`) and running queries (`query`), whose
// records arrive from other threads and are posted here.
//
// Contract:
//  - Every method runs on the server's IO thread, except the sinks it hands to the agent
//    and the log stream, which only post onto it and read `closed_flag_`.
//  - Writes go through one queue: frames never interleave. Past the server's
//    write_queue_limit the client is dropped (logged `serf-rpc-slow-client`).
//  - close() releases every subscription (agent events, log stream); nothing the session
//    registered outlives it.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "node/auth/failure_limiter.h"
#include "node/serf_rpc/codec.h"
#include "node/serf_rpc/server.h"

namespace shoal::node {

namespace serf_rpc {
class Session;
}

struct SerfRpcServer::Impl : std::enable_shared_from_this<SerfRpcServer::Impl> {
  Impl(AgentControl& a, SerfRpcOptions o) : agent(a), options(std::move(o)) {}

  AgentControl& agent;
  SerfRpcOptions options;
  boost::asio::io_context io{1};
  boost::asio::ip::tcp::acceptor acceptor{io};
  boost::asio::steady_timer linger_timer{io};
  std::unique_ptr<boost::asio::thread_pool> workers;
  std::thread io_thread;
  std::atomic<bool> stopped{false};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      keep_running;
  gossip::Address bound;
  // Failed `auth` commands per client address: past it, `auth` is refused without the key
  // being looked at (docs/security.md, "Limits").
  auth::FailureLimiter auth_failures;
  // Sessions by identity; IO thread only.
  std::map<serf_rpc::Session*, std::weak_ptr<serf_rpc::Session>> sessions;

  // Runs `fn` on the IO thread, or drops it once that thread has finished for good (so a
  // late sink cannot queue work, holding a session, in a loop nobody runs). Any thread.
  void post(std::function<void()> fn);
  // Runs `fn` on a worker (blocking agent calls). Any thread.
  void run_blocking(std::function<void()> fn);
  void accept();
  void mark_io_finished();

 private:
  std::mutex post_mu_;
  bool io_finished_ = false;
};

namespace serf_rpc {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<SerfRpcServer::Impl> server, boost::asio::ip::tcp::socket socket);
  void start();
  // Finish the request in flight, flush what is queued, then close.
  void end_after_flush(std::string_view why);
  void close(std::string_view why);
  bool closed() const { return closed_; }

 private:
  struct EventStream {
    std::optional<uint64_t> subscription;
    bool stopped = false;
  };
  struct RunningQuery {
    bool started = false;  // its first answer (the request's own) went out
    bool done = false;
    std::vector<Bytes> early;  // records that came before that answer
  };
  struct ReceivedQuery {
    uint64_t token = 0;
    TimePoint deadline{};
  };

  void read_more();
  void process();
  void handle(Request req);
  void finish_request();
  void run_on_worker(Request req);
  void send(Bytes frame);
  void send_header(uint64_t seq, std::string_view error);
  void write_next();

  void handshake(const Request& req);
  void auth(const Request& req);
  void start_stream(const Request& req);
  void on_agent_event(uint64_t seq, const AgentEvent& e);
  void start_monitor(const Request& req);
  void on_log(uint64_t seq, std::string line);
  void stop_stream(const Request& req);
  void start_query(const Request& req);
  void on_query_update(uint64_t seq, const QueryUpdate& u);
  void on_query_started(uint64_t seq, Status st);
  void respond(const Request& req);
  uint64_t remember_query(const gossip::QueryReceived& q);

  std::shared_ptr<SerfRpcServer::Impl> server_;
  boost::asio::ip::tcp::socket socket_;
  std::string remote_;
  RequestDecoder decoder_;
  std::array<uint8_t, 16 * 1024> read_buf_{};
  bool reading_ = false;
  bool busy_ = false;      // a request is being answered
  bool draining_ = false;  // no more requests: flush, then close
  bool closed_ = false;
  std::shared_ptr<std::atomic<bool>> closed_flag_ = std::make_shared<std::atomic<bool>>(false);
  std::string close_reason_;

  std::deque<Bytes> queue_;
  Bytes writing_;
  size_t queued_bytes_ = 0;

  int32_t version_ = 0;
  bool authed_ = false;
  std::map<uint64_t, EventStream> streams_;  // by the seq that opened them
  std::optional<uint64_t> monitor_seq_;
  uint64_t monitor_id_ = 0;
  std::map<uint64_t, RunningQuery> queries_;  // by seq
  std::map<uint64_t, ReceivedQuery> received_;  // by the ID handed to the client
  uint64_t next_query_id_ = 0;
};

}  // namespace serf_rpc
}  // namespace shoal::node
