#include "node/agent.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <csignal>
#include <random>

#include "gossip/key_manager.h"
#include "node/apps/state_machines.h"
#include "node/keyring_file.h"
#include "node/loop_call.h"
#include "node/member_filter.h"
#include "node/rpc_address.h"
#include "node/rpc_probe.h"
#include "node/secure/node_keys.h"

namespace shoal::node {

namespace asio = boost::asio;

namespace {

constexpr Duration kJoinBackoffMin = std::chrono::seconds(1);
constexpr Duration kJoinBackoffMax = std::chrono::seconds(30);
constexpr Duration kReadTimeout = std::chrono::seconds(5);
constexpr Duration kJoinWaitMax = std::chrono::minutes(5);

asio::steady_timer::time_point to_steady(TimePoint t) {
  return asio::steady_timer::time_point(
      std::chrono::duration_cast<asio::steady_timer::duration>(t.time_since_epoch()));
}

uint64_t random_seed() {
  if (sodium_init() >= 0) {
    uint64_t seed = 0;
    randombytes_buf(&seed, sizeof seed);
    return seed;
  }
  spdlog::warn("agent libsodium unavailable; seeding gossip from std::random_device");
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

std::string tags_string(const std::map<std::string, std::string>& tags) {
  std::string out;
  for (const auto& [k, v] : tags) {
    if (!out.empty()) out += ',';
    out += k + "=" + v;
  }
  return out;
}


}  // namespace

Agent::Agent(AgentConfig config, std::unique_ptr<DataDir> data_dir)
    : config_(std::move(config)), data_dir_(std::move(data_dir)), io_(1), wake_timer_(io_),
      retry_timer_(io_), leave_deadline_(io_), signals_(io_), snapshot_timer_(io_) {}

Agent::~Agent() {
  stopped_ = true;
  if (handlers_) handlers_->stop();  // its workers may be waiting in respond(): not on the loop
  if (raft_) raft_->stop();
  if (transport_) transport_->close();
}

Result<std::unique_ptr<Agent>> Agent::create(AgentConfig config) {
  auto dir = DataDir::open(config.data_dir);
  if (!dir.ok()) return dir.status();
  std::unique_ptr<Agent> agent(new Agent(std::move(config), std::move(*dir)));
  Agent* a = agent.get();

  // Peers reach our API (forwarding, assignments, artifact fetches) at the `http` tag's port.
  if (a->config_.http.port != 0) a->config_.tags["http"] = std::to_string(a->config_.http.port);
  // Peers find our --rpc port as gossip port + 1 unless a tag says otherwise.
  if (a->config_.rpc.port != a->config_.advertise.port + 1) {
    a->config_.tags[kRpcTag] = std::to_string(a->config_.rpc.port);
  }
  // The node-to-node channel's secrets, before any listener opens (docs/security.md).
  auto secret = setup_cluster_secret(a->config_);
  if (!secret.ok()) return secret.status();
  a->cluster_secret_ = std::move(*secret);
  secure::install_node_keyring(a->cluster_secret_.keys);
  secure::channel_counters();  // the series exist from the first scrape on, at zero
  auto keyring = startup_keyring(a->data_dir_->path(), a->config_.encrypt_key);
  if (!keyring.ok()) return keyring.status().with_context("cannot start gossip");
  auto snapshot = SnapshotFile::open(a->data_dir_->path() / "serf.snapshot",
                                     a->config_.rejoin_after_leave);
  if (!snapshot.ok()) return snapshot.status();
  a->snapshot_ = std::move(*snapshot);
  gossip::SerfConfig serf_config = a->config_.serf_config();
  serf_config.memberlist.keyring = std::move(*keyring);
  const gossip::SnapshotState& old = a->snapshot_->recovered();
  serf_config.restored_clock = old.clock;
  serf_config.restored_event_clock = old.event_clock;
  serf_config.restored_query_clock = old.query_clock;
  auto serf = gossip::Serf::create(std::move(serf_config), Rng(random_seed()), steady_now());
  if (!serf.ok()) return serf.status().with_context("cannot start gossip");
  a->serf_ = std::move(*serf);
  // Answer serf's keyring queries; each change is on disk before this member says so.
  gossip::serve_key_queries(*a->serf_, [path = a->data_dir_->path() / kKeyringFileName](
                                           const gossip::Keyring& keyring) {
    return save_keyring_file(path, keyring);
  });

  GossipTransport::Callbacks cb;
  cb.on_packet = [a](const gossip::Address& from, ByteView data) {
    a->serf_->handle_packet(from, data, steady_now());
    a->after_core_call();
  };
  cb.on_stream = [a](const gossip::Address& from, ByteView msg) {
    auto reply = a->serf_->handle_stream(from, msg, steady_now());
    a->after_core_call();
    return reply;
  };
  cb.on_stream_reply = [a](uint64_t id, Result<Bytes> reply) {
    a->serf_->handle_stream_reply(id, std::move(reply), steady_now());
    a->after_core_call();
  };
  auto transport = GossipTransport::open(a->io_, a->config_.bind,
                                         a->config_.serf_config().memberlist.tcp_timeout,
                                         std::move(cb));
  if (!transport.ok()) return transport.status();
  a->transport_ = std::move(*transport);

  RaftService::Options ro;
  ro.self = a->config_.node_name;
  ro.rpc = a->config_.rpc;
  ro.keys = a->cluster_secret_.keys;
  ro.dir = a->data_dir_->path() / "raft";
  if (a->config_.profile == "local") {
    ro.config = raft::Config::local();
  }
  // Idle groups go quiet: gossip's failure detector stands in for their heartbeats.
  ro.config.quiesce_after = 10 * ro.config.heartbeat_interval;
  ro.tick = ro.config.heartbeat_interval;
  ro.snapshot_every = a->config_.raft_snapshot_entries;
  ro.factory = apps::state_machine_factory(
      [tokens = a->tokens_](uint64_t version, auth::TokenTable table) {
        tokens->update(version, std::move(table));
      });
  auto raft = RaftService::open(std::move(ro));
  if (!raft.ok()) return raft.status().with_context("cannot start raft");
  a->raft_ = std::move(*raft);
  a->raft_->set_peer(a->config_.node_name, a->raft_->rpc_address());
  if (!a->config_.event_handlers.empty()) {
    EventHandlerRunner::Options ho;
    ho.handlers = a->config_.event_handlers;
    ho.timeout = a->config_.event_handler_timeout;
    a->handlers_ = std::make_unique<EventHandlerRunner>(
        std::move(ho), [a](uint64_t token, Bytes payload) {
          return a->respond(token, std::move(payload));
        });
    for (const auto& h : a->config_.event_handlers) {
      std::string filters;
      for (const auto& f : h.filters) filters += (filters.empty() ? "" : ",") + f.to_string();
      spdlog::info("event-handler filter={} script=\"{}\"", filters, h.script);
    }
  }
  // Catch the signals from now on: one that arrives before run() waits for it there.
  boost::system::error_code ec;
  a->signals_.add(SIGINT, ec);
  if (!ec) a->signals_.add(SIGTERM, ec);
  if (ec) return Status::internal("cannot install signal handlers: " + ec.message());
  return agent;
}

Status Agent::run() {
  spdlog::info("agent-start node={} id={} gossip={} advertise={} http={} rpc={} profile={} "
               "data_dir={} tags={} encrypted={}",
               config_.node_name, node_id(), config_.bind.to_string(),
               config_.advertise.to_string(), config_.http.to_string(),
               raft_->rpc_address().to_string(), config_.profile,
               data_dir_->path().string(), tags_string(config_.tags),
               serf_->keyring().enabled());
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    on_signal(ec, signo);
  });
  transport_->start();
  asio::post(io_, [this] {
    after_core_call();  // the core may have work from create() (e.g. its own alive)
    if (!config_.join.empty()) start_retry_join();
    rejoin_from_snapshot();
    arm_snapshot_clock();
  });
  io_.run();
  stopped_ = true;
  // Complete what HTTP handlers posted after the loop stopped: they see `stopped_` and
  // answer "shutting down" at once, instead of waiting for their timeout.
  io_.restart();
  io_.poll();
  if (handlers_) handlers_->stop();  // respond() answers "shutting down" from here on
  spdlog::info("agent-stop node={} status=\"{}\"", config_.node_name, exit_status_.to_string());
  return exit_status_;
}

void Agent::request_leave() {
  asio::post(io_, [this] { begin_leave("requested"); });
}

// ---- the loop --------------------------------------------------------------------------

void Agent::after_core_call() {
  std::vector<gossip::Action> actions = serf_->take_actions();
  for (auto& action : actions) perform(action);
  arm_wakeup();
}

void Agent::perform(gossip::Action& action) {
  std::visit(
      [this](auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, gossip::SendPacket>) {
          transport_->send_packet(a.to, std::move(a.data));
        } else if constexpr (std::is_same_v<T, gossip::StreamRequest>) {
          transport_->stream_request(std::move(a));
        } else if constexpr (std::is_same_v<T, gossip::MemberEvent>) {
          on_member_event(a);
        } else if constexpr (std::is_same_v<T, gossip::JoinDone>) {
          on_join_done(a);
        } else if constexpr (std::is_same_v<T, gossip::LeaveDone>) {
          finish_leave("done");
        } else if constexpr (std::is_same_v<T, gossip::UserEvent>) {
          on_user_event(a);
        } else if constexpr (std::is_same_v<T, gossip::QueryReceived>) {
          on_query_received(a);
        } else if constexpr (std::is_same_v<T, gossip::QueryAckReceived>) {
          on_query_progress(a.query, QueryUpdate{QueryUpdate::Kind::ack, a.from, {}, 0, 0});
        } else if constexpr (std::is_same_v<T, gossip::QueryResponseReceived>) {
          on_query_progress(a.query, QueryUpdate{QueryUpdate::Kind::response, a.from,
                                                 std::move(a.payload), 0, 0});
        } else if constexpr (std::is_same_v<T, gossip::QueryFinished>) {
          on_query_progress(a.query,
                            QueryUpdate{QueryUpdate::Kind::done, {}, {}, a.acks, a.responses});
        } else if constexpr (std::is_same_v<T, gossip::NameConflictResolved>) {
          on_name_conflict(a);
        }
      },
      action);
}

void Agent::on_member_event(const gossip::MemberEvent& ev) {
  const auto& m = ev.member;
  if (snapshot_ && m.name != config_.node_name) {
    switch (ev.type) {
      case gossip::MemberEventType::join:
      case gossip::MemberEventType::update:
        snapshot_->member_alive(m.name, m.addr.to_string());
        break;
      case gossip::MemberEventType::leave:
      case gossip::MemberEventType::failed:
        snapshot_->member_gone(m.name);
        break;
      default:
        break;
    }
  }
  if (m.name != config_.node_name) {
    if (ev.type == gossip::MemberEventType::reap) {
      raft_->remove_peer(m.name);
    } else if (auto rpc = rpc_address_of(m)) {
      raft_->set_peer(m.name, *rpc);
    }
    if (ev.type == gossip::MemberEventType::failed || ev.type == gossip::MemberEventType::leave) {
      raft_->peer_down(m.name);
    }
  }
  const auto level = ev.type == gossip::MemberEventType::failed ? spdlog::level::warn
                                                                 : spdlog::level::info;
  spdlog::log(level, "{} name={} addr={} status={} tags={}", member_event_name(ev.type), m.name,
              m.addr.to_string(), member_status_name(m.status), tags_string(m.tags));
  RecentEvent rec;
  rec.at = std::chrono::system_clock::now();
  rec.type = ev.type;
  rec.node = m.name;
  rec.addr = m.addr;
  rec.status = m.status;
  events_.add(std::move(rec));
  AgentEvent out;
  out.kind = AgentEvent::Kind::member;
  out.member_type = ev.type;
  out.member = m;
  publish(std::move(out));
}

void Agent::on_join_done(const gossip::JoinDone& done) {
  auto it = pending_joins_.find(done.id);
  if (it == pending_joins_.end()) {
    spdlog::warn("agent join-done for unknown request id={}", done.id);
    return;
  }
  auto callback = std::move(it->second);
  pending_joins_.erase(it);
  callback(done);
}

void Agent::arm_wakeup() {
  if (stopped_ || left_) return;
  TimePoint next = serf_->next_wakeup();
  if (next == wake_armed_for_) return;
  wake_armed_for_ = next;
  if (next == kTimeNever) {
    wake_timer_.cancel();
    return;
  }
  // Never spin: a deadline already past fires after a millisecond.
  const TimePoint now = steady_now();
  const TimePoint at = std::max(next, now + std::chrono::milliseconds(1));
  wake_timer_.expires_at(to_steady(at));
  wake_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_ || left_) return;
    wake_armed_for_ = kTimeNever;
    serf_->tick(steady_now());
    after_core_call();
  });
}

void Agent::on_signal(const boost::system::error_code& ec, int signo) {
  if (ec) return;  // cancelled at shutdown
  const char* name = signo == SIGINT ? "SIGINT" : "SIGTERM";
  if (leaving_) {
    spdlog::warn("agent-signal signal={} second signal: stopping without waiting for the leave",
                 name);
    finish_leave("interrupted");
    return;
  }
  begin_leave(name);
  signals_.async_wait([this](const boost::system::error_code& e, int s) { on_signal(e, s); });
}

// Serf's rejoin: the peers alive when we stopped (forgotten by a graceful leave unless
// --rejoin-after-leave), tried once, together; --join peers are tried as well.
void Agent::rejoin_from_snapshot() {
  const gossip::SnapshotState& old = snapshot_->recovered();
  if (old.left && !config_.rejoin_after_leave) {
    spdlog::info("snapshot-no-rejoin reason=\"left gracefully last time; --rejoin-after-leave "
                 "is off\"");
    return;
  }
  std::vector<gossip::Address> addrs;
  for (const auto& [name, text] : old.alive) {
    if (name == config_.node_name) continue;
    auto a = gossip::Address::parse(text, kDefaultGossipPort);
    if (a.ok()) addrs.push_back(*a);
  }
  if (addrs.empty()) return;
  spdlog::info("snapshot-rejoin peers={}", addrs.size());
  const uint64_t id = serf_->join(addrs, /*ignore_old=*/true, steady_now());
  pending_joins_[id] = [](const gossip::JoinDone& done) {
    if (done.joined > 0) {
      spdlog::info("snapshot-rejoin-ok joined={} failed={}", done.joined, done.errors.size());
    } else {
      spdlog::warn("snapshot-rejoin-failed peers={} (none answered)", done.errors.size());
    }
  };
  after_core_call();
}

// As serf does every 500 ms: keep the clocks durable, so a restart starts past them.
void Agent::arm_snapshot_clock() {
  if (stopped_ || left_ || !snapshot_) return;
  const gossip::SerfStats st = serf_->stats();
  // The clock holds the next time to use; the last one used is one less, as serf records.
  if (st.member_ltime > 0) snapshot_->record_member_clock(st.member_ltime - 1);
  if (st.event_ltime > 0) snapshot_->record_event_clock(st.event_ltime - 1);
  if (st.query_ltime > 0) snapshot_->record_query_clock(st.query_ltime - 1);
  snapshot_timer_.expires_after(std::chrono::milliseconds(500));
  snapshot_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) arm_snapshot_clock();
  });
}

void Agent::start_retry_join() {
  if (leaving_) return;
  ++join_attempts_;
  std::vector<gossip::Address> addrs;
  for (const auto& text : config_.join) {
    auto a = gossip::Address::parse(text, kDefaultGossipPort);
    if (a.ok()) addrs.push_back(*a);  // validated when the config was loaded
  }
  probe_seeds(std::move(addrs), [this](std::vector<gossip::Address> usable, Status refused) {
    if (leaving_) return;
    if (!refused.ok()) {
      exit_status_ = refused;
      begin_leave("join refused");
      return;
    }
    join_seeds(std::move(usable));
  });
}

// Asks each seed's --rpc (its gossip port + 1) whether it takes our secret before joining
// through it: a node with the wrong one is told so now, not left in a cluster it cannot
// talk to. Seeds that do not answer as Shoal nodes (serf agents, a moved --rpc, not up
// yet) are kept. `done` gets the seeds to join, or permission_denied if every one refused.
void Agent::probe_seeds(std::vector<gossip::Address> addrs, SeedsProbed done) {
  if (!cluster_secret_.keys || addrs.empty()) return done(std::move(addrs), Status());
  struct Round {
    std::vector<gossip::Address> addrs;
    std::vector<Status> results;
    size_t pending = 0;
    SeedsProbed done;
  };
  auto round = std::make_shared<Round>();
  round->results.resize(addrs.size());
  round->pending = addrs.size();
  round->addrs = std::move(addrs);
  round->done = std::move(done);
  for (size_t i = 0; i < round->addrs.size(); ++i) {
    gossip::Address rpc = round->addrs[i];
    rpc.port = static_cast<uint16_t>(rpc.port == 65535 ? rpc.port : rpc.port + 1);
    probe_channel(io_, rpc, cluster_secret_.keys, std::chrono::seconds(2), [round, i](Status st) {
      round->results[i] = std::move(st);
      if (--round->pending > 0) return;
      std::vector<gossip::Address> usable;
      std::string refusals;
      for (size_t j = 0; j < round->addrs.size(); ++j) {
        const Status& r = round->results[j];
        if (r.is(Status::Code::permission_denied) || r.is(Status::Code::unauthenticated)) {
          spdlog::error("join-refused seed={} reason=\"{}\"", round->addrs[j].to_string(),
                        r.message());
          refusals += (refusals.empty() ? "" : "; ") + r.message();
        } else {
          usable.push_back(round->addrs[j]);
        }
      }
      if (usable.empty()) {
        return round->done({}, Status::permission_denied(
                                   "the cluster refused our cluster secret (" + refusals +
                                   "): start with the cluster's --cluster-secret-file"));
      }
      round->done(std::move(usable), Status());
    });
  }
}

void Agent::join_seeds(std::vector<gossip::Address> addrs) {
  if (leaving_) return;
  const int attempt = join_attempts_;
  spdlog::info("join-attempt attempt={} peers={}", attempt, addrs.size());
  const uint64_t id = serf_->join(addrs, /*ignore_old=*/true, steady_now());
  pending_joins_[id] = [this, attempt](const gossip::JoinDone& done) {
    if (done.joined > 0) {
      spdlog::info("join-ok attempt={} joined={} failed={}", attempt, done.joined,
                   done.errors.size());
      return;
    }
    std::string why;
    for (const auto& e : done.errors) why += (why.empty() ? "" : "; ") + e;
    if (config_.retry_max > 0 && attempt >= config_.retry_max) {
      spdlog::error("join-failed attempt={} retry_max={} errors=\"{}\" giving up", attempt,
                    config_.retry_max, why);
      exit_status_ = Status::unavailable("could not join any of the --join peers in " +
                                         std::to_string(attempt) + " attempts: " + why);
      begin_leave("join failed");
      return;
    }
    // Exponential backoff with jitter: 1 s, 2 s, 4 s ... capped at 30 s.
    Duration backoff = kJoinBackoffMin * (1LL << std::min(attempt - 1, 5));
    backoff = std::min(backoff, kJoinBackoffMax);
    backoff += std::chrono::milliseconds(randombytes_uniform(500));
    spdlog::warn("join-failed attempt={} errors=\"{}\" retry_in_ms={}", attempt, why,
                 to_millis(backoff));
    retry_timer_.expires_after(backoff);
    retry_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) start_retry_join();
    });
  };
  after_core_call();
}

void Agent::begin_leave(std::string_view reason) {
  if (leaving_ || left_) return;
  leaving_ = true;
  retry_timer_.cancel();
  const auto& sc = serf_->config();
  const Duration bound = sc.broadcast_timeout + sc.leave_propagate_delay + std::chrono::seconds(1);
  spdlog::info("agent-leave reason=\"{}\" bound_ms={}", reason, to_millis(bound));
  if (snapshot_) snapshot_->leave();
  serf_->leave(steady_now());
  leave_deadline_.expires_after(bound);
  leave_deadline_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    spdlog::warn("agent-leave the leave did not complete in time; stopping anyway");
    finish_leave("deadline");
  });
  after_core_call();
}

void Agent::finish_leave(std::string_view how) {
  if (left_) return;
  left_ = true;
  spdlog::info("agent-left how={}", how);
  for (auto& waiter : leave_waiters_) waiter();
  leave_waiters_.clear();
  stop_loop();
}

void Agent::stop_loop() {
  stopped_ = true;
  boost::system::error_code ignored;
  wake_timer_.cancel();
  retry_timer_.cancel();
  leave_deadline_.cancel();
  snapshot_timer_.cancel();
  signals_.cancel(ignored);
  transport_->close();
  pending_joins_.clear();  // their HTTP callers hear "stopped before answering"
  finish_open_queries();
  subscribers_.clear();
  io_.stop();
}

Duration Agent::call_timeout() const { return kReadTimeout; }

// ---- AgentControl: posted onto the loop -------------------------------------------------

Result<std::vector<gossip::Member>> Agent::members() {
  return call_on_loop<std::vector<gossip::Member>>(
      io_, stopped_, call_timeout(),
      [this](Completion<std::vector<gossip::Member>> done) { done(serf_->members()); });
}

Result<SelfInfo> Agent::self() {
  return call_on_loop<SelfInfo>(io_, stopped_, call_timeout(), [this](Completion<SelfInfo> done) {
    SelfInfo s;
    s.member = serf_->local_member();
    s.node_id = node_id();
    s.profile = config_.profile;
    s.http = config_.http;
    s.data_dir = data_dir_->path().string();
    s.stats = serf_->stats();
    s.encrypted = serf_->keyring().enabled();
    s.packets_send_failed = transport_->stats().packets_send_failed;
    s.streams_failed = transport_->stats().streams_failed;
    if (handlers_) s.event_handlers = handlers_->stats();
    done(std::move(s));
  });
}

Result<size_t> Agent::num_alive() {
  return call_on_loop<size_t>(io_, stopped_, call_timeout(),
                              [this](Completion<size_t> done) { done(serf_->num_alive()); });
}

Result<std::vector<RecentEvent>> Agent::recent_events() {
  return call_on_loop<std::vector<RecentEvent>>(
      io_, stopped_, call_timeout(),
      [this](Completion<std::vector<RecentEvent>> done) { done(events_.snapshot()); });
}

Result<JoinOutcome> Agent::join(const std::vector<gossip::Address>& addrs, bool replay) {
  // The core may try the addresses one after another, each up to the TCP timeout.
  const Duration tcp = config_.serf_config().memberlist.tcp_timeout;
  const Duration bound =
      std::min<Duration>(tcp * static_cast<int64_t>(std::max<size_t>(1, addrs.size())) +
                             std::chrono::seconds(5),
                         kJoinWaitMax);
  return call_on_loop<JoinOutcome>(
      io_, stopped_, bound, [this, addrs, replay](Completion<JoinOutcome> done) {
        if (leaving_) {
          done(Status::unavailable("the agent is leaving the cluster"));
          return;
        }
        probe_seeds(addrs, [this, replay, done](std::vector<gossip::Address> usable,
                                                Status refused) {
          if (!refused.ok()) return done(refused);
          if (leaving_) return done(Status::unavailable("the agent is leaving the cluster"));
          const uint64_t id = serf_->join(usable, /*ignore_old=*/!replay, steady_now());
          pending_joins_[id] = [done](const gossip::JoinDone& d) {
            done(JoinOutcome{d.joined, d.errors});
          };
          after_core_call();
        });
      });
}

Status Agent::leave() {
  const auto sc = config_.serf_config();
  const Duration bound =
      sc.broadcast_timeout + sc.leave_propagate_delay + std::chrono::seconds(3);
  auto r = call_on_loop<bool>(io_, stopped_, bound, [this](Completion<bool> done) {
    if (left_) {
      done(true);
      return;
    }
    leave_waiters_.push_back([done] { done(true); });
    begin_leave("api");
  });
  return r.ok() ? Status() : r.status();
}

Status Agent::force_leave(const std::string& node, bool prune) {
  auto r = call_on_loop<bool>(io_, stopped_, call_timeout(),
                              [this, node, prune](Completion<bool> done) {
                                Status st = serf_->force_leave(node, prune, steady_now());
                                after_core_call();
                                if (st.ok()) {
                                  spdlog::info("force-leave node={} prune={}", node, prune);
                                  done(true);
                                } else {
                                  done(st);
                                }
                              });
  return r.ok() ? Status() : r.status();
}

Result<std::map<std::string, std::string>> Agent::update_tags(const TagUpdate& update) {
  using Tags = std::map<std::string, std::string>;
  return call_on_loop<Tags>(io_, stopped_, call_timeout(), [this, update](Completion<Tags> done) {
    if (leaving_) {
      done(Status::unavailable("the agent is leaving the cluster"));
      return;
    }
    Tags tags = serf_->local_member().tags;
    for (const auto& key : update.remove) tags.erase(key);
    for (const auto& [k, v] : update.set) tags[k] = v;
    Status st = serf_->set_tags(tags, steady_now());
    after_core_call();
    if (!st.ok()) {
      done(st);
      return;
    }
    spdlog::info("tags-updated tags={}", tags_string(tags));
    done(std::move(tags));
  });
}

}  // namespace shoal::node
