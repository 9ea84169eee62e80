// One Serf RPC connection: the request loop, and the streaming commands (stream, monitor,
// query, respond, stop). Plain request/response commands are in commands.cc.
#include "node/serf_rpc/session.h"

#include <spdlog/spdlog.h>

#include "node/log_stream.h"
#include "node/member_filter.h"
#include "node/serf_rpc/commands.h"
#include "node/serf_rpc/filters.h"

namespace shoal::node::serf_rpc {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Queries whose IDs a client may still answer; older ones are forgotten first.
constexpr size_t kReceivedQueriesMax = 4096;
constexpr std::string_view kInternalQueryPrefix = "_serf_";

std::string endpoint_string(const tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  const auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

// Constant time in the length of `given`, so the key's content does not leak by timing.
bool same_key(std::string_view given, std::string_view expected) {
  uint8_t diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<uint8_t>(given[i] ^ (expected.empty() ? 0 : expected[i % expected.size()]));
  }
  return diff == 0;
}

}  // namespace

Session::Session(std::shared_ptr<SerfRpcServer::Impl> server, tcp::socket socket)
    : server_(std::move(server)), socket_(std::move(socket)),
      decoder_(server_->options.max_value_bytes) {
  remote_ = endpoint_string(socket_);
  boost::system::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
}

void Session::start() {
  spdlog::debug("serf-rpc-accept remote={}", remote_);
  read_more();
}

// ---- the request loop ------------------------------------------------------------------

void Session::read_more() {
  if (reading_ || closed_ || draining_) return;
  // Requests pipelined behind a slow one wait in the decoder; past this, stop reading.
  if (decoder_.buffered() > server_->options.max_value_bytes) return;
  reading_ = true;
  socket_.async_read_some(asio::buffer(read_buf_),
                          [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                            self->reading_ = false;
                            if (self->closed_) return;
                            if (ec) {
                              if (ec == asio::error::eof) {
                                self->end_after_flush("client closed");
                              } else {
                                self->close("read: " + ec.message());
                              }
                              return;
                            }
                            self->decoder_.feed(ByteView(self->read_buf_.data(), n));
                            self->process();
                            self->read_more();
                          });
}

void Session::process() {
  while (!busy_ && !closed_ && !draining_) {
    auto next = decoder_.next();
    if (!next.ok()) {
      spdlog::warn("serf-rpc-bad-request remote={} reason=\"{}\"", remote_, next.status().message());
      end_after_flush("bad request");
      return;
    }
    if (!next->has_value()) return;
    handle(std::move(**next));
  }
}

void Session::finish_request() {
  busy_ = false;
  if (closed_) return;
  if (draining_) {
    if (writing_.empty() && queue_.empty()) close(close_reason_);
    return;
  }
  process();
  read_more();
}

void Session::handle(Request req) {
  spdlog::debug("serf-rpc-request remote={} command={} seq={}", remote_, req.command_name, req.seq);
  if (req.command == Command::unknown) {
    spdlog::warn("serf-rpc-bad-request remote={} reason=\"unknown command '{}'\"", remote_,
                 req.command_name);
    send_header(req.seq, kErrUnsupportedCommand);
    end_after_flush("unknown command");
    return;
  }
  if (!req.body_error.ok()) {
    spdlog::warn("serf-rpc-bad-request remote={} command={} reason=\"{}\"", remote_,
                 req.command_name, req.body_error.message());
    send_header(req.seq, "decode failed: " + req.body_error.message());
    end_after_flush("bad request body");
    return;
  }
  if (req.command != Command::handshake && version_ == 0) {
    send_header(req.seq, kErrHandshakeRequired);
    end_after_flush("no handshake");
    return;
  }
  if (!server_->options.auth_key.empty() && !authed_ && req.command != Command::auth &&
      req.command != Command::handshake) {
    spdlog::warn("serf-rpc-auth-required remote={} command={}", remote_, req.command_name);
    send_header(req.seq, kErrAuthRequired);  // no body, as serf: the client expects none
    return;
  }
  switch (req.command) {
    case Command::handshake: return handshake(req);
    case Command::auth: return auth(req);
    case Command::stream: return start_stream(req);
    case Command::monitor: return start_monitor(req);
    case Command::stop: return stop_stream(req);
    case Command::query: return start_query(req);
    case Command::respond: return respond(req);
    default: return run_on_worker(std::move(req));
  }
}

void Session::run_on_worker(Request req) {
  busy_ = true;
  auto self = shared_from_this();
  server_->run_blocking([self, req = std::move(req)] {
    Bytes frame = run_command(self->server_->agent, req);
    self->server_->post([self, frame = std::move(frame)]() mutable {
      if (!self->closed_) self->send(std::move(frame));
      self->finish_request();
    });
  });
}

// ---- writes ----------------------------------------------------------------------------

void Session::send_header(uint64_t seq, std::string_view error) {
  Bytes frame;
  encode_response_header(frame, seq, error);
  send(std::move(frame));
}

void Session::send(Bytes frame) {
  if (closed_) return;
  queued_bytes_ += frame.size();
  queue_.push_back(std::move(frame));
  if (queued_bytes_ > server_->options.write_queue_limit) {
    spdlog::warn("serf-rpc-slow-client remote={} queued_bytes={} limit={}: dropping the "
                 "connection", remote_, queued_bytes_, server_->options.write_queue_limit);
    close("slow client");
    return;
  }
  if (writing_.empty()) write_next();
}

void Session::write_next() {
  if (closed_) return;
  if (queue_.empty()) {
    if (draining_ && !busy_) close(close_reason_);
    return;
  }
  // Everything queued goes out in one write.
  for (auto& f : queue_) writing_.insert(writing_.end(), f.begin(), f.end());
  queue_.clear();
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](boost::system::error_code ec, size_t) {
                      if (self->closed_) return;
                      if (ec) {
                        self->close("write: " + ec.message());
                        return;
                      }
                      self->queued_bytes_ -= std::min(self->queued_bytes_, self->writing_.size());
                      self->writing_.clear();
                      self->write_next();
                    });
}

void Session::end_after_flush(std::string_view why) {
  if (closed_) return;
  if (!draining_) close_reason_ = std::string(why);
  draining_ = true;
  if (!busy_ && writing_.empty() && queue_.empty()) close(close_reason_);
}

void Session::close(std::string_view why) {
  if (closed_) return;
  closed_ = true;
  closed_flag_->store(true);
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  for (auto& [seq, stream] : streams_) {
    if (stream.subscription) server_->agent.unsubscribe(*stream.subscription);
  }
  streams_.clear();
  if (monitor_seq_) log_stream()->unsubscribe(monitor_id_);
  monitor_seq_.reset();
  queue_.clear();
  spdlog::debug("serf-rpc-close remote={} reason=\"{}\"", remote_, why);
  server_->sessions.erase(this);
  if (server_->stopped && server_->sessions.empty()) server_->linger_timer.cancel();
}

// ---- handshake, auth -------------------------------------------------------------------

void Session::handshake(const Request& req) {
  const auto& body = std::get<HandshakeRequest>(req.body);
  if (body.version != kIpcVersion) {
    send_header(req.seq, kErrUnsupportedVersion);
  } else if (version_ != 0) {
    send_header(req.seq, kErrDuplicateHandshake);
  } else {
    version_ = body.version;
    send_header(req.seq, "");
  }
}

void Session::auth(const Request& req) {
  const auto& body = std::get<AuthRequest>(req.body);
  const std::string host = auth::remote_host(remote_);
  if (const Duration wait = server_->auth_failures.blocked_for(host, steady_now());
      wait > Duration::zero()) {
    spdlog::warn("serf-rpc-auth-rate-limited remote={} retry_in_ms={}", remote_, to_millis(wait));
    return send_header(req.seq, kErrInvalidAuthToken);  // the key is not even looked at
  }
  if (same_key(body.auth_key, server_->options.auth_key)) {
    authed_ = true;
    send_header(req.seq, "");
  } else {
    server_->auth_failures.failed(host, steady_now());
    spdlog::warn("serf-rpc-auth-failed remote={}", remote_);
    send_header(req.seq, kErrInvalidAuthToken);
  }
}

// ---- stream ----------------------------------------------------------------------------

void Session::start_stream(const Request& req) {
  const auto& body = std::get<StreamRequest>(req.body);
  auto filter = EventFilter::parse(body.type);
  if (!filter) return send_header(req.seq, kErrInvalidFilter);
  if (streams_.count(req.seq) != 0) return send_header(req.seq, kErrStreamExists);
  streams_[req.seq] = EventStream{};
  send_header(req.seq, "");  // as serf: the answer first, then the events
  busy_ = true;
  const uint64_t seq = req.seq;
  std::weak_ptr<Session> weak = weak_from_this();
  auto closed = closed_flag_;
  AgentEventSink sink = [weak, closed, seq, filter = *filter](const AgentEvent& e) {
    if (closed->load()) return false;
    if (!filter.matches(e)) return true;
    auto self = weak.lock();
    if (!self) return false;
    self->server_->post([self, seq, e] { self->on_agent_event(seq, e); });
    return true;
  };
  auto self = shared_from_this();
  server_->run_blocking([self, seq, sink = std::move(sink)]() mutable {
    auto id = self->server_->agent.subscribe(std::move(sink));
    self->server_->post([self, seq, id] {
      auto it = self->streams_.find(seq);
      if (id.ok() && (self->closed_ || it == self->streams_.end())) {
        self->server_->agent.unsubscribe(*id);  // stopped (or gone) while subscribing
      } else if (id.ok()) {
        it->second.subscription = *id;
      } else {
        spdlog::warn("serf-rpc-stream-failed remote={} seq={} reason=\"{}\"", self->remote_, seq,
                     id.status().message());
        self->end_after_flush("stream failed");
      }
      self->finish_request();
    });
  });
}

void Session::on_agent_event(uint64_t seq, const AgentEvent& e) {
  if (closed_ || streams_.count(seq) == 0) return;
  Bytes frame;
  encode_response_header(frame, seq, "");
  switch (e.kind) {
    case AgentEvent::Kind::member:
      encode_member_event_record(frame, member_event_name(e.member_type), {e.member});
      break;
    case AgentEvent::Kind::user:
      encode_user_event_record(frame, e.user);
      break;
    case AgentEvent::Kind::query:
      encode_query_event_record(frame, remember_query(e.query), e.query);
      break;
  }
  send(std::move(frame));
}

uint64_t Session::remember_query(const gossip::QueryReceived& q) {
  const TimePoint now = steady_now();
  std::erase_if(received_, [now](const auto& kv) { return kv.second.deadline < now; });
  if (received_.size() >= kReceivedQueriesMax) received_.erase(received_.begin());
  const uint64_t id = ++next_query_id_;
  received_[id] = ReceivedQuery{q.token, q.deadline};
  return id;
}

void Session::respond(const Request& req) {
  const auto& body = std::get<RespondRequest>(req.body);
  auto it = received_.find(body.id);
  if (it == received_.end() || it->second.deadline < steady_now()) {
    return send_header(req.seq, kErrInvalidQueryId);
  }
  busy_ = true;
  auto self = shared_from_this();
  const uint64_t token = it->second.token;
  server_->run_blocking([self, seq = req.seq, token, payload = body.payload]() mutable {
    Status st = self->server_->agent.respond(token, std::move(payload));
    self->server_->post([self, seq, st] {
      self->send_header(seq, st.ok() ? std::string_view() : st.message());
      self->finish_request();
    });
  });
}

// ---- monitor ---------------------------------------------------------------------------

void Session::start_monitor(const Request& req) {
  const auto& body = std::get<MonitorRequest>(req.body);
  auto level = monitor_level(body.log_level);
  if (!level) {
    std::string up(body.log_level);
    for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return send_header(req.seq, "Unknown log level: " + up);
  }
  if (monitor_seq_) return send_header(req.seq, kErrMonitorExists);
  send_header(req.seq, "");
  monitor_seq_ = req.seq;
  std::weak_ptr<Session> weak = weak_from_this();
  auto closed = closed_flag_;
  const uint64_t seq = req.seq;
  // Runs under the log sink's lock on whatever thread logged: only post, never log.
  monitor_id_ = log_stream()->subscribe(*level, [weak, closed, seq](const std::string& line) {
    if (closed->load()) return false;
    auto self = weak.lock();
    if (!self) return false;
    std::string text = line;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    self->server_->post([self, seq, text = std::move(text)]() mutable {
      self->on_log(seq, std::move(text));
    });
    return true;
  });
}

void Session::on_log(uint64_t seq, std::string line) {
  if (closed_ || monitor_seq_ != seq) return;
  Bytes frame;
  encode_response_header(frame, seq, "");
  encode_log_record(frame, line);
  send(std::move(frame));
}

// ---- stop ------------------------------------------------------------------------------

void Session::stop_stream(const Request& req) {
  const uint64_t target = std::get<StopRequest>(req.body).stop;
  if (monitor_seq_ == target) {
    log_stream()->unsubscribe(monitor_id_);
    monitor_seq_.reset();
  }
  if (auto it = streams_.find(target); it != streams_.end()) {
    if (it->second.subscription) server_->agent.unsubscribe(*it->second.subscription);
    streams_.erase(it);
  }
  send_header(req.seq, "");  // serf always succeeds
}

// ---- query -----------------------------------------------------------------------------

void Session::start_query(const Request& req) {
  const auto& body = std::get<QueryRequest>(req.body);
  if (std::string_view(body.name).starts_with(kInternalQueryPrefix) &&
      (body.name != "_serf_ping" || !body.payload.empty())) {
    return send_header(req.seq, "Queries cannot contain the '_serf_' prefix");
  }
  if (queries_.count(req.seq) != 0) return send_header(req.seq, kErrStreamExists);
  gossip::QueryParams params;
  params.filter_nodes = body.filter_nodes;
  params.filter_tags = body.filter_tags;
  params.request_ack = body.request_ack;
  params.relay_factor = body.relay_factor;
  params.timeout = Duration(std::max<int64_t>(0, body.timeout_ns));
  queries_[req.seq] = RunningQuery{};
  busy_ = true;
  const uint64_t seq = req.seq;
  std::weak_ptr<Session> weak = weak_from_this();
  QuerySink sink = [weak, seq](const QueryUpdate& u) {
    auto self = weak.lock();
    if (!self) return;
    self->server_->post([self, seq, u] { self->on_query_update(seq, u); });
  };
  auto self = shared_from_this();
  server_->run_blocking([self, seq, name = body.name, payload = body.payload, params,
                         sink = std::move(sink)]() mutable {
    auto started = self->server_->agent.query(name, std::move(payload), params, std::move(sink));
    if (started.ok()) {
      spdlog::debug("serf-rpc-query seq={} name={} timeout_ms={}", seq, name,
                    to_millis(started->timeout));
    }
    self->server_->post([self, seq, st = started.status()] {
      self->on_query_started(seq, st);
      self->finish_request();
    });
  });
}

void Session::on_query_update(uint64_t seq, const QueryUpdate& u) {
  auto it = queries_.find(seq);
  if (closed_ || it == queries_.end()) return;
  Bytes frame;
  encode_response_header(frame, seq, "");
  switch (u.kind) {
    case QueryUpdate::Kind::ack:
      encode_query_record(frame, kQueryRecordAck, u.from, {});
      break;
    case QueryUpdate::Kind::response:
      encode_query_record(frame, kQueryRecordResponse, u.from, u.payload);
      break;
    case QueryUpdate::Kind::done:
      encode_query_record(frame, kQueryRecordDone, "", {});
      it->second.done = true;
      break;
  }
  if (!it->second.started) {
    it->second.early.push_back(std::move(frame));
    return;
  }
  send(std::move(frame));
  if (it->second.done) queries_.erase(it);
}

void Session::on_query_started(uint64_t seq, Status st) {
  auto it = queries_.find(seq);
  if (closed_ || it == queries_.end()) return;
  if (!st.ok()) {
    queries_.erase(it);
    send_header(seq, st.message());
    return;
  }
  send_header(seq, "");
  it->second.started = true;
  for (auto& frame : it->second.early) send(std::move(frame));
  it->second.early.clear();
  if (it->second.done) queries_.erase(seq);
}

}  // namespace shoal::node::serf_rpc
