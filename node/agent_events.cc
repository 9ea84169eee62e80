// The agent's side of the event layer: user events and queries in and out of the gossip
// core, and the fan-out of everything the node sees to subscribers (the SSE stream of
// GET /v1/agent/events, and the --event-handler runner). All of it runs on the loop thread,
// except the AgentControl entry points, which post onto it.
#include <spdlog/spdlog.h>

#include "node/agent.h"
#include "node/loop_call.h"

namespace shoal::node {

namespace {

std::string printable(ByteView payload) {
  constexpr size_t kMax = 64;
  std::string out;
  for (size_t i = 0; i < payload.size() && i < kMax; ++i) {
    const char c = static_cast<char>(payload[i]);
    out += (c >= 0x20 && c < 0x7f && c != '"') ? c : '.';
  }
  if (payload.size() > kMax) out += "...";
  return out;
}

}  // namespace

void Agent::publish(AgentEvent ev) {
  ev.seq = ++event_seq_;
  ev.at = std::chrono::system_clock::now();
  for (auto it = subscribers_.begin(); it != subscribers_.end();) {
    it = it->second(ev) ? std::next(it) : subscribers_.erase(it);
  }
  // Only queued here: the scripts run on the runner's threads. Events the core did not
  // deliver (older than the snapshot's clocks, duplicates) never reach this point.
  if (handlers_) handlers_->submit(ev, serf_->local_member());
}

void Agent::on_user_event(const gossip::UserEvent& ev) {
  spdlog::info("user-event name={} ltime={} coalesce={} payload=\"{}\"", ev.name, ev.ltime,
               ev.coalesce, printable(ev.payload));
  AgentEvent out;
  out.kind = AgentEvent::Kind::user;
  out.user = ev;
  publish(std::move(out));
}

void Agent::on_query_received(const gossip::QueryReceived& q) {
  spdlog::info("query name={} ltime={} from={} payload=\"{}\"", q.name, q.ltime, q.source_node,
               printable(q.payload));
  AgentEvent out;
  out.kind = AgentEvent::Kind::query;
  out.query = q;
  publish(std::move(out));
}

void Agent::on_query_progress(gossip::LamportTime query, const QueryUpdate& update) {
  auto it = open_queries_.find(query);
  if (it == open_queries_.end()) return;
  it->second(update);
  if (update.kind == QueryUpdate::Kind::done) open_queries_.erase(it);
}

void Agent::finish_open_queries() {
  auto open = std::move(open_queries_);
  open_queries_.clear();
  for (auto& [ltime, sink] : open) sink(QueryUpdate{QueryUpdate::Kind::done, {}, {}, 0, 0});
}

void Agent::on_name_conflict(const gossip::NameConflictResolved& r) {
  if (r.stay) {
    spdlog::warn("name-conflict resolved=stay matching={} responses={}", r.matching,
                 r.responses);
    return;
  }
  spdlog::error("name-conflict resolved=quit matching={} responses={}: another node owns "
                "the name {}", r.matching, r.responses, config_.node_name);
  exit_status_ = Status::already_exists("another node owns the name " + config_.node_name);
  finish_leave("name-conflict");
}

// ---- AgentControl ----------------------------------------------------------------------

Status Agent::user_event(const std::string& name, Bytes payload, bool coalesce) {
  auto r = call_on_loop<bool>(
      io_, stopped_, call_timeout(),
      [this, name, payload = std::move(payload), coalesce](Completion<bool> done) mutable {
        Status st = serf_->user_event(name, std::move(payload), coalesce, steady_now());
        after_core_call();
        if (st.ok()) {
          done(true);
        } else {
          done(st);
        }
      });
  return r.ok() ? Status() : r.status();
}

Result<QueryStartInfo> Agent::query(const std::string& name, Bytes payload,
                                    const gossip::QueryParams& params, QuerySink sink) {
  return call_on_loop<QueryStartInfo>(
      io_, stopped_, call_timeout(),
      [this, name, payload = std::move(payload), params,
       sink = std::move(sink)](Completion<QueryStartInfo> done) mutable {
        const TimePoint now = steady_now();
        auto started = serf_->query(name, std::move(payload), params, now);
        if (!started.ok()) {
          done(started.status());
          return;
        }
        spdlog::info("query-start name={} id={} timeout_ms={}", name, started->id,
                     to_millis(started->deadline - now));
        // Register before the core's actions run: our own ack and answer are among them.
        open_queries_[started->query] = std::move(sink);
        done(QueryStartInfo{started->id, started->deadline - now});
        after_core_call();
      });
}

Status Agent::respond(uint64_t token, Bytes payload) {
  auto r = call_on_loop<bool>(io_, stopped_, call_timeout(),
                              [this, token, payload = std::move(payload)](
                                  Completion<bool> done) mutable {
                                Status st = serf_->respond(token, std::move(payload), steady_now());
                                after_core_call();
                                if (st.ok()) {
                                  done(true);
                                } else {
                                  done(st);
                                }
                              });
  return r.ok() ? Status() : r.status();
}

Result<uint64_t> Agent::subscribe(AgentEventSink sink) {
  return call_on_loop<uint64_t>(io_, stopped_, call_timeout(),
                                [this, sink = std::move(sink)](Completion<uint64_t> done) mutable {
                                  const uint64_t id = ++next_subscriber_;
                                  subscribers_[id] = std::move(sink);
                                  done(id);
                                });
}

void Agent::unsubscribe(uint64_t id) {
  if (stopped_) return;
  boost::asio::post(io_, [this, id] { subscribers_.erase(id); });
}

}  // namespace shoal::node
