// node/event_handler.h
//
// EventHandlerRunner: runs the agent's --event-handler scripts for what the agent sees —
// member changes, user events, queries — as Serf 0.9's agent does, without ever holding up
// gossip.
//
// The agent's loop hands each event to submit(), which only queues it. Member events and
// user events that allow it are coalesced first, as serf's agent does (a window of 3 s,
// closed early after 1 s of quiet; gossip/coalescer.h), so a burst of joins runs a
// member-join handler once with one stdin line per member. Every handler has its own
// worker thread and a bounded queue: it sees its events one at a time, in order, and a
// slow handler delays only itself. A full queue drops the event (logged, counted).
//
// Each run is `/bin/sh -c SCRIPT` with serf's environment and stdin
// (node/event_script.h), killed with its process group past the timeout
// (node/script_process.h). A failure — non-zero exit, signal, timeout, spawn error, an
// answer the query cannot take — is logged as
//   event-handler-failed script="..." event=... reason="..."
// and counted in stats(). A query handler that exits 0 with output on stdout answers the
// query with it through `respond` (AgentControl::respond); output over the query's
// response limit is not sent (serf refuses it too) and counts as a failure.
//
// Contract:
//  - submit() and stats() are thread-safe and never wait for a script.
//  - `respond` is called from worker threads, never under the runner's lock.
//  - stop() (and the destructor) drops queued events, kills the scripts running now and
//    joins the threads. It must not be called on a thread that `respond` waits for (the
//    agent's loop): a worker may be inside respond. Idempotent.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/status.h"
#include "gossip/coalescer.h"
#include "node/agent_control.h"
#include "node/event_filter.h"
#include "node/event_script.h"

namespace shoal::node {

inline constexpr Duration kDefaultEventHandlerTimeout = std::chrono::seconds(30);
// (EventHandlerStats, which the API reports, is in node/agent_control.h.)

class EventHandlerRunner {
 public:
  struct Options {
    std::vector<EventHandlerSpec> handlers;
    Duration timeout = kDefaultEventHandlerTimeout;
    size_t queue_max = 256;  // per handler
    gossip::EventCoalescer::Options coalesce;  // serf's agent: 3 s / 1 s for both kinds
  };
  // Answers a query this node received (its token), from a worker thread.
  using Respond = std::function<Status(uint64_t token, Bytes payload)>;

  // Starts a worker thread per handler, and one that closes coalescing windows.
  EventHandlerRunner(Options options, Respond respond);
  ~EventHandlerRunner();
  EventHandlerRunner(const EventHandlerRunner&) = delete;
  EventHandlerRunner& operator=(const EventHandlerRunner&) = delete;

  // One event as the agent saw it, and this node as it is now (name, tags for the env).
  void submit(const AgentEvent& event, const gossip::Member& self);
  void stop();
  EventHandlerStats stats() const;

 private:
  struct Job {
    HandlerEvent event;
    gossip::Member self;
  };
  struct Worker {
    EventHandlerSpec spec;
    std::deque<Job> queue;
    std::condition_variable wake;
    std::thread thread;
  };

  void route(std::vector<HandlerEvent>& ready);  // REQUIRES: mu_ held
  void dispatch_loop();
  void worker_loop(Worker& w);
  void run_one(const EventHandlerSpec& spec, const Job& job);
  void count_failure(bool timed_out);

  const Options opt_;
  const Respond respond_;
  mutable std::mutex mu_;
  std::condition_variable dispatch_wake_;
  gossip::EventCoalescer coalescer_;     // guarded by mu_
  gossip::Member self_;                  // guarded by mu_
  std::vector<std::unique_ptr<Worker>> workers_;
  std::thread dispatcher_;
  EventHandlerStats stats_;              // guarded by mu_
  std::atomic<bool> stopping_{false};    // also cancels the scripts running now
  bool joined_ = false;                  // guarded by mu_
};

}  // namespace shoal::node
