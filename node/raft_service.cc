#include "node/raft_service.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>

#include "base/rng.h"
#include "node/loop_call.h"
#include "node/metrics.h"
#include "node/raft_transport.h"
#include "raft/kv_state_machine.h"
#include "raft/wire.h"

namespace shoal::node {

namespace asio = boost::asio;

namespace {

constexpr Duration kCallTimeout = std::chrono::seconds(5);

uint64_t seed_from_device() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) | rd();
}

}  // namespace

RaftService::RaftService(Options options) : opts_(std::move(options)), io_(1), timer_(io_) {}

RaftService::~RaftService() { stop(); }

Result<std::unique_ptr<RaftService>> RaftService::open(Options options) {
  std::unique_ptr<RaftService> s(new RaftService(std::move(options)));
  std::error_code ec;
  std::filesystem::create_directories(s->opts_.dir, ec);
  if (ec) {
    return Status::io_error("cannot create " + s->opts_.dir.string() + ": " + ec.message());
  }
  // Every fsync the host waits on, for GET /metrics: the disk is Raft's usual bottleneck.
  metrics::Histogram& fsync = metrics::registry().histogram(
      "shoal_raft_fsync_seconds", "How long each synced write of the Raft log took.",
      metrics::latency_buckets());
  auto db = raft::LevelDb::open(
      {.path = s->opts_.dir.string(),
       .on_synced_write = [&fsync](double seconds) { fsync.observe(seconds); }});
  if (!db.ok()) return db.status();
  s->db_ = std::move(*db);
  raft::HostOptions ho;
  ho.self = s->opts_.self;
  ho.config = s->opts_.config;
  ho.tick = s->opts_.tick;
  ho.snapshot_every = s->opts_.snapshot_every;
  raft::StateMachineFactory factory = s->opts_.factory;
  if (!factory) {
    factory = [](raft::GroupId) { return std::make_unique<raft::KvStateMachine>(); };
  }
  auto host = raft::Host::open(ho, s->db_, std::move(factory), seed_from_device(), steady_now());
  if (!host.ok()) return host.status().with_context("cannot open the raft host");
  s->host_ = std::move(*host);

  RaftService* self = s.get();
  RaftTransport::Callbacks cb;
  cb.on_frame = [self](const raft::NodeId& from, ByteView payload) { self->on_frame(from, payload); };
  cb.on_bad_frame = [self](const raft::NodeId&, const std::string&) { self->host_->count_bad_frame(); };
  cb.on_http = [self](int fd, const std::string& remote) {
    // Called under the lock, so once set_http_handoff({}) returns no handoff is running.
    std::lock_guard lock(self->http_mu_);
    if (self->http_handoff_) {
      self->http_handoff_(fd, remote);
    } else {
      ::close(fd);
    }
  };
  // A peer whose connection ended is dialed once at once: a refusal means its process is
  // gone (kill -9, a crash), and the groups it led elect a new leader within a heartbeat
  // instead of an election timeout (raft::PeerDown). Gossip says the same, seconds later.
  cb.on_lost = [self](const raft::NodeId& peer) {
    std::optional<gossip::Address> addr;
    {
      std::lock_guard lock(self->peers_mu_);
      if (auto it = self->peers_.find(peer); it != self->peers_.end()) addr = it->second;
    }
    if (addr) self->transport_->probe(peer, *addr);
  };
  cb.on_refused = [self](const raft::NodeId& peer) {
    if (!self->failed_.ok()) return;
    spdlog::info("raft-peer-down peer={} reason=\"connection refused\"", peer);
    self->host_->peer_down(peer, steady_now());
    self->schedule_flush();
  };
  RaftTransport::Options to;
  to.keys = s->opts_.keys;
  auto t = RaftTransport::open(s->io_, s->opts_.rpc, s->opts_.self, std::move(cb), to);
  if (!t.ok()) return t.status();
  s->transport_ = std::move(*t);
  s->rpc_ = s->transport_->address();
  s->transport_->start();
  asio::post(s->io_, [self] { self->flush(); });  // replays and timers of reopened groups
  s->thread_ = std::thread([self] {
    self->io_.run();
    self->stopped_ = true;
  });
  spdlog::info("raft-start node={} rpc={} dir={} groups={}", s->opts_.self, s->rpc_.to_string(),
               s->opts_.dir.string(), s->host_->groups().size());
  return s;
}

void RaftService::stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    fail_all(Status::unavailable("the raft service is stopping"));
    timer_.cancel();
    transport_->close();
    io_.stop();
  });
  thread_.join();
  stopped_ = true;
}

void RaftService::set_http_handoff(std::function<void(int fd, const std::string& remote)> serve) {
  std::lock_guard lock(http_mu_);
  http_handoff_ = std::move(serve);
}

void RaftService::set_peer(const raft::NodeId& node, const gossip::Address& rpc) {
  std::lock_guard lock(peers_mu_);
  peers_[node] = rpc;
}

void RaftService::remove_peer(const raft::NodeId& node) {
  std::lock_guard lock(peers_mu_);
  peers_.erase(node);
}

void RaftService::peer_down(const raft::NodeId& node) {
  asio::post(io_, [this, node] {
    if (!failed_.ok()) return;
    host_->peer_down(node, steady_now());
    schedule_flush();
  });
}

// ---- the loop --------------------------------------------------------------------------

void RaftService::on_frame(const raft::NodeId& from, ByteView payload) {
  auto batch = raft::decode_batch(payload, from, opts_.self);
  if (!batch.ok()) {
    host_->count_bad_frame();
    spdlog::warn("raft-frame-rejected peer={} reason=\"{}\"", from, batch.status().message());
    return;
  }
  host_->receive(from, std::move(*batch), steady_now());
  schedule_flush();
}

void RaftService::schedule_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  // Posted, so everything already queued on the loop (more frames, requests) joins this
  // turn's WriteBatch: the batched fsync.
  asio::post(io_, [this] {
    flush_posted_ = false;
    flush();
  });
}

void RaftService::flush() {
  if (!failed_.ok()) return;
  const TimePoint now = steady_now();
  host_->tick(now);
  auto out = host_->flush(now);
  if (!out.ok()) {
    failed_ = out.status();
    spdlog::error("raft-stopped reason=\"{}\"", failed_.to_string());
    fail_all(failed_);
    return;
  }
  if (!out->sends.empty()) {
    std::map<raft::NodeId, gossip::Address> peers;
    {
      std::lock_guard lock(peers_mu_);
      peers = peers_;
    }
    for (auto& [peer, batch] : out->sends) {
      auto it = peers.find(peer);
      if (it == peers.end()) {
        spdlog::debug("raft-send-dropped peer={} reason=\"address unknown\"", peer);
        transport_->drop(batch.size());
        continue;
      }
      transport_->send(peer, it->second, raft::encode_batch(batch));
    }
  }
  for (const auto& c : out->completions) {
    auto it = waiting_.find(c.id);
    if (it == waiting_.end()) continue;
    auto done = std::move(it->second);
    waiting_.erase(it);
    done(c);
  }
  auto after = std::move(after_flush_);
  after_flush_.clear();
  for (auto& fn : after) fn();
  arm(out->wake_at);
}

void RaftService::arm(TimePoint at) {
  if (at == armed_for_) return;
  armed_for_ = at;
  if (at == kTimeNever) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(at.time_since_epoch())));
  timer_.async_wait([this, at](const boost::system::error_code& ec) {
    if (ec || armed_for_ != at) return;
    armed_for_ = kTimeNever;
    flush();
  });
}

void RaftService::fail_all(const Status& why) {
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [id, done] : waiting) {
    raft::Completion c;
    c.id = id;
    c.status = why;
    done(c);
  }
  auto after = std::move(after_flush_);
  after_flush_.clear();
  for (auto& fn : after) fn();
}

// ---- requests --------------------------------------------------------------------------

void RaftService::put(raft::GroupId group, std::string key, Bytes value,
                      std::function<void(const raft::Completion&)> done) {
  propose(group, raft::KvStateMachine::put_command(key, value), std::move(done));
}

void RaftService::get(raft::GroupId group, std::string key,
                      std::function<void(const ReadResult&)> done) {
  asio::post(io_, [this, group, key = std::move(key), done = std::move(done)]() mutable {
    if (!failed_.ok()) {
      done(ReadResult{failed_, std::nullopt, {}, 0});
      return;
    }
    const uint64_t id = next_request_++;
    waiting_[id] = [this, group, key = std::move(key), done = std::move(done)](
                       const raft::Completion& c) {
      ReadResult r{c.status, std::nullopt, c.leader, c.index};
      if (c.status.ok()) {
        // The read point is applied here: the local state machine is linearizable now.
        const auto* kv = dynamic_cast<const raft::KvStateMachine*>(host_->machine(group));
        if (kv) r.value = kv->get(key);
      }
      done(r);
    };
    host_->read(group, id, steady_now());
    schedule_flush();
  });
}

void RaftService::propose(raft::GroupId group, Bytes command,
                          std::function<void(const raft::Completion&)> done) {
  asio::post(io_, [this, group, command = std::move(command), done = std::move(done)]() mutable {
    if (!failed_.ok()) {
      raft::Completion c;
      c.status = failed_;
      done(c);
      return;
    }
    const uint64_t id = next_request_++;
    waiting_[id] = std::move(done);
    host_->propose(group, std::move(command), id, steady_now());
    schedule_flush();
  });
}

namespace {

// Waits for a completion posted from the Raft loop, at most `timeout`. The shared state
// outlives a caller that gave up, so a late completion writes into it harmlessly.
template <typename T>
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<T>> value;

  void set(Result<T> v) {
    std::lock_guard lock(mu);
    value = std::move(v);
    cv.notify_all();
  }
  Result<T> wait(Duration timeout, std::string_view what) {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, timeout, [&] { return value.has_value(); })) {
      return Status::timeout(std::string(what) + " did not complete within " +
                             std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                timeout)
                                                .count()) +
                             " ms");
    }
    return std::move(*value);
  }
};

Status completion_status(const raft::Completion& c) {
  if (c.status.ok() || c.leader.empty()) return c.status;
  return c.status.with_context("leader is " + c.leader);
}

}  // namespace

Result<Bytes> RaftService::propose_wait(raft::GroupId group, Bytes command, Duration timeout) {
  if (stopped_) return Status::unavailable("the raft service is stopped");
  auto w = std::make_shared<Waiter<Bytes>>();
  propose(group, std::move(command), [w](const raft::Completion& c) {
    if (c.status.ok()) {
      w->set(c.result);
    } else {
      w->set(completion_status(c));
    }
  });
  return w->wait(timeout, "the raft proposal");
}

Result<RaftService::MachineCopy> RaftService::read_machine(raft::GroupId group, bool linearizable,
                                                           Duration timeout) {
  if (stopped_) return Status::unavailable("the raft service is stopped");
  auto w = std::make_shared<Waiter<MachineCopy>>();
  asio::post(io_, [this, group, linearizable, w] {
    if (!failed_.ok()) return w->set(failed_);
    auto copy = [this, group]() -> Result<MachineCopy> {
      const raft::StateMachine* m = host_->machine(group);
      if (m == nullptr) return Status::not_found("no raft group " + std::to_string(group) + " here");
      auto st = host_->status(group);
      MachineCopy out;
      out.state = m->snapshot();
      if (st.ok()) out.applied = st->core.applied;
      return out;
    };
    if (!linearizable) return w->set(copy());
    const uint64_t id = next_request_++;
    waiting_[id] = [w, copy](const raft::Completion& c) {
      if (!c.status.ok()) return w->set(completion_status(c));
      w->set(copy());
    };
    host_->read(group, id, steady_now());
    schedule_flush();
  });
  return w->wait(timeout, "the raft read");
}

template <typename T>
Result<T> RaftService::call(std::function<Result<T>(raft::Host&, TimePoint)> fn,
                            bool after_flush) {
  if (stopped_) return Status::unavailable("the raft service is stopped");
  return call_on_loop<T>(io_, stopped_, kCallTimeout, [this, fn = std::move(fn), after_flush](
                                                          node::Completion<T> complete) {
    if (!failed_.ok()) return complete(failed_);
    Result<T> r = fn(*host_, steady_now());
    if (!after_flush || !r.ok()) return complete(std::move(r));
    // Answer only once the change is durable.
    auto shared = std::make_shared<Result<T>>(std::move(r));
    after_flush_.push_back([this, shared, complete] {
      complete(failed_.ok() ? std::move(*shared) : Result<T>(failed_));
    });
    schedule_flush();
  });
}

Result<std::vector<raft::GroupStatus>> RaftService::list() {
  return call<std::vector<raft::GroupStatus>>(
      [](raft::Host& h, TimePoint) -> Result<std::vector<raft::GroupStatus>> {
        std::vector<raft::GroupStatus> out;
        for (raft::GroupId id : h.groups()) {
          auto s = h.status(id);
          if (s.ok()) out.push_back(std::move(*s));
        }
        return out;
      },
      false);
}

Result<raft::GroupStatus> RaftService::status(raft::GroupId group) {
  return call<raft::GroupStatus>(
      [group](raft::Host& h, TimePoint) { return h.status(group); }, false);
}

Status RaftService::create(raft::GroupId group, std::vector<raft::NodeId> voters) {
  return call<bool>(
             [group, voters = std::move(voters)](raft::Host& h, TimePoint now) -> Result<bool> {
               SHOAL_RETURN_IF_ERROR(h.create_group(group, voters, now));
               return true;
             },
             true)
      .status();
}

Status RaftService::remove(raft::GroupId group) {
  return call<bool>(
             [group](raft::Host& h, TimePoint) -> Result<bool> {
               SHOAL_RETURN_IF_ERROR(h.delete_group(group));
               return true;
             },
             true)
      .status();
}

Status RaftService::add_member(raft::GroupId group, const raft::NodeId& node, bool voter) {
  return call<bool>(
             [=](raft::Host& h, TimePoint now) -> Result<bool> {
               SHOAL_RETURN_IF_ERROR(h.add_member(group, node, voter, now));
               return true;
             },
             true)
      .status();
}

Status RaftService::remove_member(raft::GroupId group, const raft::NodeId& node) {
  return call<bool>(
             [=](raft::Host& h, TimePoint now) -> Result<bool> {
               SHOAL_RETURN_IF_ERROR(h.remove_member(group, node, now));
               return true;
             },
             true)
      .status();
}

Status RaftService::transfer(raft::GroupId group, const raft::NodeId& target) {
  return call<bool>(
             [=](raft::Host& h, TimePoint now) -> Result<bool> {
               SHOAL_RETURN_IF_ERROR(h.transfer(group, target, now));
               return true;
             },
             true)
      .status();
}

Result<RaftServiceStats> RaftService::stats() {
  return call<RaftServiceStats>(
      [this](raft::Host& h, TimePoint) -> Result<RaftServiceStats> {
        RaftServiceStats s;
        s.host = h.counters();
        s.bad_frames = h.bad_frames();
        const auto& t = transport_->stats();
        s.frames_in = t.frames_in, s.frames_out = t.frames_out;
        s.frames_dropped = t.frames_dropped, s.connections = transport_->connections();
        s.rejected_connections = t.rejected;
        s.groups = h.groups().size();
        return s;
      },
      false);
}

}  // namespace shoal::node
