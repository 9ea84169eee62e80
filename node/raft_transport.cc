#include "node/raft_transport.h"

#include <spdlog/spdlog.h>

#include <deque>

#include "node/gossip_transport.h"
#include "node/rpc_channel_accept.h"
#include "node/rpc_http_relay.h"
#include "node/secure/handshake.h"
#include "node/secure/node_keys.h"
#include "raft/wire.h"

namespace shoal::node {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr size_t kReadChunk = 64 * 1024;
}  // namespace

class RaftConnection : public std::enable_shared_from_this<RaftConnection> {
 public:
  // `session`: an accepted connection whose channel handshake is done (with the first
  // plaintext it carried); an outbound one runs the handshake itself when keys are set.
  RaftConnection(std::shared_ptr<RaftTransport> owner, tcp::socket sock, bool outbound,
                 raft::NodeId peer, std::unique_ptr<secure::Session> session = nullptr,
                 Bytes first_plain = {})
      : owner_(std::move(owner)),
        sock_(std::move(sock)),
        timer_(owner_->io_),
        outbound_(outbound),
        peer_(std::move(peer)),
        rbuf_(kReadChunk),
        session_(std::move(session)),
        first_plain_(std::move(first_plain)) {
    Bytes hello;
    raft::append_frame(hello, raft::encode_hello({raft::kWireVersion, owner_->self_}));
    queue_.push_back(std::move(hello));
  }

  const raft::NodeId& peer() const { return peer_; }
  bool outbound() const { return outbound_; }
  bool established() const { return established_; }
  // The dial was refused: nothing listens at the peer's address (its process is gone).
  bool refused() const { return refused_; }
  // A probe (RaftTransport::probe): its attempt number, 0 for an ordinary dial.
  int probe = 0;
  gossip::Address dialed;
  // Who dialed this connection: the tie-break keeps the one dialed by the smaller id.
  const raft::NodeId& dialer() const { return outbound_ ? owner_->self_ : peer_; }

  void dial(const gossip::Address& addr) {
    dialed = addr;
    ++owner_->stats_.connects;
    timer_.expires_after(owner_->opts_.connect_timeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && !self->connected_) self->fail("connect timed out", false);
    });
    tcp::endpoint ep(GossipTransport::to_ip(addr), addr.port);
    sock_.async_connect(ep, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (self->dead_) return;
      if (ec) {
        self->refused_ = ec == asio::error::connection_refused;
        return self->fail("connect: " + ec.message(), false);
      }
      self->connected_ = true;
      self->timer_.cancel();
      self->start();
    });
  }

  void start() {
    boost::system::error_code ignored;
    sock_.set_option(tcp::no_delay(true), ignored);
    connected_ = true;
    if (outbound_ && owner_->opts_.keys) return handshake();
    if (!first_plain_.empty() && !take_plain(std::exchange(first_plain_, {}))) return;
    write_next();
    read_next();
  }

  // Queues a complete frame. Returns false if it was dropped (queue full).
  bool enqueue(Bytes frame) {
    if (dead_) return false;
    if (queued_bytes_ + frame.size() > kMaxQueuedBytes) return false;
    queued_bytes_ += frame.size();
    queue_.push_back(std::move(frame));
    if (connected_) write_next();
    return true;
  }

  // Frames not yet written, minus our Hello: moved to the connection that replaces us.
  std::deque<Bytes> take_queue() {
    std::deque<Bytes> out = std::move(queue_);
    queue_.clear();
    queued_bytes_ = 0;
    if (hello_queued_ && !out.empty()) out.pop_front();
    hello_queued_ = false;
    return out;
  }

  void shutdown() {
    if (dead_) return;
    dead_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
  }

 private:
  void fail(const std::string& why, bool bad) {
    if (dead_) return;
    shutdown();
    owner_->closed(shared_from_this(), why, bad);
  }

  void write_next() {
    if (dead_ || writing_ || queue_.empty() || handshake_) return;
    writing_ = true;
    in_flight_.clear();
    hello_in_flight_ = hello_queued_;
    hello_queued_ = false;
    while (!queue_.empty()) {
      in_flight_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    size_t bytes = 0;
    for (const auto& f : in_flight_) bytes += f.size();
    std::vector<asio::const_buffer> bufs;
    if (session_) {
      // One batch, sealed into as few records as fit (secure::kMaxRecordPlain each).
      sealed_.clear();
      batch_.clear();
      for (const auto& f : in_flight_) batch_.insert(batch_.end(), f.begin(), f.end());
      session_->sealer.seal(batch_, sealed_);
      bufs.push_back(asio::buffer(sealed_));
    } else {
      bufs.reserve(in_flight_.size());
      for (const auto& f : in_flight_) bufs.push_back(asio::buffer(f));
    }
    asio::async_write(sock_, bufs,
                      [self = shared_from_this(), bytes](const boost::system::error_code& ec,
                                                         size_t) {
                        self->writing_ = false;
                        if (self->dead_) return;
                        if (ec) return self->fail("write: " + ec.message(), false);
                        auto& st = self->owner_->stats_;
                        const size_t hello = self->hello_in_flight_ ? 1 : 0;
                        st.frames_out += self->in_flight_.size() - hello;
                        st.bytes_out += bytes;
                        size_t payload = bytes;
                        if (hello) payload -= self->in_flight_.front().size();
                        self->queued_bytes_ -= std::min(self->queued_bytes_, payload);
                        self->hello_in_flight_ = false;
                        self->in_flight_.clear();
                        self->write_next();
                      });
  }

  void read_next() {
    sock_.async_read_some(
        asio::buffer(rbuf_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                         size_t n) {
          if (self->dead_) return;
          if (ec) {
            return self->fail(ec == asio::error::eof ? "closed by peer" : "read: " + ec.message(),
                              false);
          }
          self->owner_->stats_.bytes_in += n;
          const ByteView got(self->rbuf_.data(), n);
          if (self->handshake_) {
            if (!self->on_handshake_bytes(got)) return;
          } else if (self->session_) {
            self->opened_.clear();
            Status st = self->session_->opener.feed(got, self->opened_);
            if (!st.ok()) {
              secure::channel_counters().records_rejected.inc();
              return self->fail("channel: " + st.message(), true);
            }
            if (!self->take_plain(self->opened_)) return;
          } else if (!self->take_plain(got)) {
            return;
          }
          if (self->dead_ || self->owner_->closed_) return;
          self->read_next();
        });
  }

  // Decodes and delivers the frames in `plain`. False once the connection is closed.
  bool take_plain(ByteView plain) {
    decoder_.feed(plain);
    for (;;) {
      auto frame = decoder_.next();
      if (!frame.ok()) {
        fail(frame.status().message(), true);
        return false;
      }
      if (!*frame) return true;
      if (!on_frame(**frame)) return false;
      if (dead_ || owner_->closed_) return false;
    }
  }

  // The dialing side of the channel handshake: our hello, then the answer in read_next.
  void handshake() {
    handshake_ = std::make_unique<secure::ClientHandshake>(owner_->opts_.keys->primary());
    writing_ = true;
    asio::async_write(sock_, asio::buffer(handshake_->hello().data(), handshake_->hello().size()),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->writing_ = false;
                        if (self->dead_) return;
                        if (ec) return self->fail("write: " + ec.message(), false);
                        self->write_next();  // frames queued while the answer came
                      });
    read_next();
  }

  bool on_handshake_bytes(ByteView got) {
    hs_in_.insert(hs_in_.end(), got.begin(), got.end());
    const bool refused = secure::is_refusal(hs_in_);
    if (hs_in_.size() < secure::kHelloBytes && !refused) return true;
    const size_t used = refused ? secure::kRefusalBytes : secure::kHelloBytes;
    auto session = handshake_->finish(ByteView(hs_in_.data(), used));
    handshake_.reset();
    if (!session.ok()) {
      secure::channel_counters().dial_failures.inc();
      ++owner_->stats_.handshake_failures;
      fail("channel handshake with " + dialed.to_string() + ": " + session.status().message(), true);
      return false;
    }
    session_ = std::move(*session);
    Bytes rest(hs_in_.begin() + static_cast<std::ptrdiff_t>(used), hs_in_.end());
    hs_in_.clear();
    if (!rest.empty()) {
      Bytes plain;
      Status st = session_->opener.feed(rest, plain);
      if (!st.ok()) {
        secure::channel_counters().records_rejected.inc();
        fail("channel: " + st.message(), true);
        return false;
      }
      if (!take_plain(plain)) return false;
    }
    write_next();
    return true;
  }

  bool on_frame(const Bytes& payload) {
    if (!got_hello_) {
      auto hello = raft::decode_hello(payload);
      if (!hello.ok()) {
        fail(hello.status().message(), true);
        return false;
      }
      if (hello->node == owner_->self_) {
        fail("hello from a node with our own id", true);
        return false;
      }
      if (outbound_ && hello->node != peer_) {
        fail("dialed '" + peer_ + "' but '" + hello->node + "' answered", true);
        return false;
      }
      peer_ = hello->node;
      got_hello_ = established_ = true;
      owner_->established(shared_from_this());
      return true;
    }
    ++owner_->stats_.frames_in;
    owner_->callbacks_.on_frame(peer_, payload);
    return true;
  }

  std::shared_ptr<RaftTransport> owner_;
  tcp::socket sock_;
  asio::steady_timer timer_;
  bool outbound_;
  raft::NodeId peer_;
  std::vector<uint8_t> rbuf_;
  raft::FrameDecoder decoder_;
  std::unique_ptr<secure::Session> session_;       // the sealed channel, once set up
  std::unique_ptr<secure::ClientHandshake> handshake_;  // dialing: until the answer came
  Bytes hs_in_;                                    // the answer, as it arrives
  Bytes first_plain_;                              // accepted: what the accept step read
  Bytes batch_;                                    // the frames being sealed, end to end
  Bytes sealed_;                                   // the records being written
  Bytes opened_;                                   // what the last read opened
  std::deque<Bytes> queue_;
  std::vector<Bytes> in_flight_;
  size_t queued_bytes_ = 0;
  bool connected_ = false;
  bool writing_ = false;
  bool hello_queued_ = true;  // our Hello is queue_.front() until the first write
  bool hello_in_flight_ = false;
  bool got_hello_ = false;
  bool established_ = false;
  bool refused_ = false;
  bool dead_ = false;
};

RaftTransport::RaftTransport(asio::io_context& io, raft::NodeId self, Callbacks callbacks,
                             Options options)
    : io_(io),
      self_(std::move(self)),
      callbacks_(std::move(callbacks)),
      opts_(options),
      acceptor_(io) {}

RaftTransport::~RaftTransport() = default;

Result<std::shared_ptr<RaftTransport>> RaftTransport::open(asio::io_context& io,
                                                           const gossip::Address& bind,
                                                           raft::NodeId self,
                                                           Callbacks callbacks, Options options) {
  std::shared_ptr<RaftTransport> t(
      new RaftTransport(io, std::move(self), std::move(callbacks), options));
  boost::system::error_code ec;
  tcp::endpoint ep(GossipTransport::to_ip(bind), bind.port);
  t->acceptor_.open(ep.protocol(), ec);
  if (!ec) t->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) t->acceptor_.bind(ep, ec);
  if (!ec) t->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::io_error("cannot listen for raft (--rpc) on TCP " + bind.to_string() + ": " +
                            ec.message());
  }
  return t;
}

gossip::Address RaftTransport::address() const {
  boost::system::error_code ec;
  auto ep = acceptor_.local_endpoint(ec);
  return GossipTransport::from_ip(ep.address(), ep.port());
}

void RaftTransport::start() { accept_next(); }

void RaftTransport::accept_next() {
  if (closed_) return;
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                     tcp::socket sock) {
    if (self->closed_) return;
    if (!ec) {
      ++self->stats_.accepted;
      self->classify(std::move(sock));
    } else if (ec != asio::error::operation_aborted) {
      spdlog::warn("raft-accept-failed reason=\"{}\"", ec.message());
    }
    self->accept_next();
  });
}

struct FirstByteWait {
  FirstByteWait(tcp::socket s, asio::io_context& io) : sock(std::move(s)), timer(io) {}
  tcp::socket sock;
  asio::steady_timer timer;
  bool done = false;
};

void RaftTransport::classify(tcp::socket sock) {
  if (handshaking_.size() + unclassified_.size() >= opts_.max_unauthenticated) {
    ++stats_.rejected;
    spdlog::debug("rpc-connection-refused reason=\"{} connections not through the handshake\"",
                  opts_.max_unauthenticated);
    boost::system::error_code ignored;
    sock.close(ignored);
    return;
  }
  if (opts_.keys) {
    boost::system::error_code ec;
    const auto remote = sock.remote_endpoint(ec);
    auto a = std::make_shared<ChannelAccept>(
        std::move(sock), opts_.keys, opts_.first_byte_timeout,
        [self = shared_from_this()](const std::shared_ptr<ChannelAccept>& a, tcp::socket s,
                                    std::unique_ptr<secure::Session> session, Bytes plain) {
          self->handshaking_.erase(a);
          if (self->closed_) return;
          self->dispatch(std::move(s), std::move(session), std::move(plain));
        },
        [self = shared_from_this(), remote](const std::shared_ptr<ChannelAccept>& a,
                                            const std::string& why) {
          self->handshaking_.erase(a);
          ++self->stats_.rejected;
          ++self->stats_.handshake_failures;
          spdlog::warn("rpc-connection-rejected remote={}:{} reason=\"{}\"",
                       remote.address().to_string(), remote.port(), why);
        });
    handshaking_.insert(a);
    a->start();
    return;
  }
  auto w = std::make_shared<FirstByteWait>(std::move(sock), io_);
  unclassified_.insert(w);
  w->timer.expires_after(opts_.first_byte_timeout);
  w->timer.async_wait([self = shared_from_this(), w](const boost::system::error_code& ec) {
    if (ec || w->done || self->closed_) return;
    w->done = true;
    self->unclassified_.erase(w);
    ++self->stats_.rejected;
    spdlog::warn("rpc-connection-rejected reason=\"nothing sent within {} ms\"",
                 to_millis(self->opts_.first_byte_timeout));
  });
  w->sock.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this(), w](const boost::system::error_code& ec) {
                       if (w->done || self->closed_) return;
                       w->done = true;
                       w->timer.cancel();
                       self->unclassified_.erase(w);
                       if (!ec) self->classified(w);
                     });
}

void RaftTransport::classified(const std::shared_ptr<FirstByteWait>& w) {
  uint8_t first = 0;
  boost::system::error_code ec;
  const size_t n = w->sock.receive(asio::buffer(&first, 1), tcp::socket::message_peek, ec);
  if (ec || n == 0) return;  // gone before saying anything
  if (first == 0) {
    auto c = std::make_shared<RaftConnection>(shared_from_this(), std::move(w->sock),
                                              /*outbound=*/false, "");
    inbound_.insert(c);
    c->start();
    return;
  }
  if (first >= 'A' && first <= 'Z' && callbacks_.on_http) {
    const int fd = w->sock.release(ec);
    if (ec) {
      spdlog::warn("rpc-http-handoff-failed reason=\"{}\"", ec.message());
      return;
    }
    ++stats_.http_handoffs;
    callbacks_.on_http(fd, "");
    return;
  }
  ++stats_.rejected;
  spdlog::warn("rpc-connection-rejected reason=\"first byte 0x{:02x} is neither Raft nor HTTP\"",
               first);
}

void RaftTransport::dispatch(tcp::socket sock, std::unique_ptr<secure::Session> session,
                             Bytes first_plain) {
  const uint8_t first = first_plain.front();
  if (first == 0) {
    auto c = std::make_shared<RaftConnection>(shared_from_this(), std::move(sock),
                                              /*outbound=*/false, "", std::move(session),
                                              std::move(first_plain));
    inbound_.insert(c);
    c->start();
    return;
  }
  if (first >= 'A' && first <= 'Z' && callbacks_.on_http) {
    boost::system::error_code ec;
    const auto ep = sock.remote_endpoint(ec);
    const std::string remote =
        ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
    auto relay = HttpRelay::start(std::move(sock), std::move(session), std::move(first_plain),
                                  [this, &remote](int fd) { callbacks_.on_http(fd, remote); },
                                  [self = shared_from_this()](HttpRelay* r) { self->relays_.erase(r); });
    if (!relay.ok()) {
      spdlog::warn("rpc-http-handoff-failed reason=\"{}\"", relay.status().message());
      return;
    }
    ++stats_.http_handoffs;
    relays_[relay->get()] = *relay;
    return;
  }
  ++stats_.rejected;
  spdlog::warn("rpc-connection-rejected reason=\"first byte 0x{:02x} is neither Raft nor HTTP\"",
               first);
}

void RaftTransport::send(const raft::NodeId& peer, const gossip::Address& addr, Bytes payload) {
  if (closed_) return;
  Bytes frame;
  frame.reserve(payload.size() + 4);
  raft::append_frame(frame, payload);
  if (auto it = peers_.find(peer); it != peers_.end()) {
    if (!it->second->enqueue(std::move(frame))) ++stats_.frames_dropped;
    return;
  }
  if (auto b = backoff_.find(peer); b != backoff_.end() && steady_now() < b->second.until) {
    ++stats_.frames_dropped;
    return;
  }
  auto c = std::make_shared<RaftConnection>(shared_from_this(), tcp::socket(io_),
                                            /*outbound=*/true, peer);
  peers_[peer] = c;
  c->enqueue(std::move(frame));
  c->dial(addr);
}

void RaftTransport::probe(const raft::NodeId& peer, const gossip::Address& addr, int attempt) {
  if (closed_ || peers_.count(peer)) return;
  auto c = std::make_shared<RaftConnection>(shared_from_this(), tcp::socket(io_),
                                            /*outbound=*/true, peer);
  c->probe = attempt;
  peers_[peer] = c;
  c->dial(addr);
}

void RaftTransport::established(const std::shared_ptr<RaftConnection>& c) {
  inbound_.erase(c);
  const raft::NodeId& peer = c->peer();
  if (c->outbound()) backoff_.erase(peer);
  auto it = peers_.find(peer);
  if (it == peers_.end()) {
    peers_[peer] = c;
    return;
  }
  if (it->second == c) return;
  std::shared_ptr<RaftConnection> existing = it->second;
  std::shared_ptr<RaftConnection> winner = c, loser = existing;
  if (existing->established()) {
    const raft::NodeId& preferred = std::min(self_, peer);
    // Both ends make the same choice; a newer connection from the same dialer replaces an
    // older one (the peer restarted, or the old one died unnoticed).
    if (existing->dialer() == preferred && c->dialer() != preferred) std::swap(winner, loser);
  }
  for (auto& f : loser->take_queue()) winner->enqueue(std::move(f));
  if (existing->established()) ++stats_.duplicates_closed;
  loser->shutdown();
  peers_[peer] = winner;
}

void RaftTransport::closed(const std::shared_ptr<RaftConnection>& c, const std::string& why,
                           bool bad) {
  inbound_.erase(c);
  const raft::NodeId peer = c->peer();
  bool current = false;
  if (auto it = peers_.find(peer); it != peers_.end() && it->second == c) {
    peers_.erase(it);
    current = true;
  }
  if (!bad && current && c->established() && callbacks_.on_lost) callbacks_.on_lost(peer);
  if (c->outbound() && c->refused() && callbacks_.on_refused) callbacks_.on_refused(peer);
  // A dying process closes its sockets one by one: a probe may still be accepted by its
  // listener, then reset before any Hello. Ask again shortly; by then nothing listens.
  constexpr int kProbeAttempts = 3;
  if (c->probe > 0 && c->probe < kProbeAttempts && !c->established() && !c->refused() && !bad) {
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(20));
    timer->async_wait([self = shared_from_this(), timer, peer, addr = c->dialed,
                       next = c->probe + 1](const boost::system::error_code& ec) {
      if (!ec) self->probe(peer, addr, next);
    });
  }
  if (c->outbound() && !c->established()) {
    ++stats_.connect_failures;
    Backoff& b = backoff_[peer];
    b.next = std::clamp(b.next * 2, opts_.backoff_min, opts_.backoff_max);
    b.until = steady_now() + b.next;
  }
  if (bad) {
    ++stats_.rejected;
    spdlog::warn("raft-connection-rejected peer={} reason=\"{}\"", peer.empty() ? "?" : peer, why);
    if (callbacks_.on_bad_frame) callbacks_.on_bad_frame(peer, why);
  } else {
    spdlog::debug("raft-connection-closed peer={} reason=\"{}\"", peer, why);
  }
}

void RaftTransport::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& [peer, c] : peers_) c->shutdown();
  for (auto& c : inbound_) c->shutdown();
  for (auto& w : unclassified_) {
    w->done = true;
    w->timer.cancel();
    w->sock.close(ignored);
  }
  for (auto& a : handshaking_) a->cancel();
  for (auto& [ptr, r] : relays_) r->close();
  peers_.clear();
  inbound_.clear();
  unclassified_.clear();
  handshaking_.clear();
  relays_.clear();
}

}  // namespace shoal::node
