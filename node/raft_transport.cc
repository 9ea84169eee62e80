#include "node/raft_transport.h"

#include <spdlog/spdlog.h>

#include <deque>

#include "node/gossip_transport.h"
#include "raft/wire.h"

namespace shoal::node {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr size_t kReadChunk = 64 * 1024;
}  // namespace

class RaftConnection : public std::enable_shared_from_this<RaftConnection> {
 public:
  RaftConnection(std::shared_ptr<RaftTransport> owner, tcp::socket sock, bool outbound,
                 raft::NodeId peer)
      : owner_(std::move(owner)),
        sock_(std::move(sock)),
        timer_(owner_->io_),
        outbound_(outbound),
        peer_(std::move(peer)),
        rbuf_(kReadChunk) {
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
    if (dead_ || writing_ || queue_.empty()) return;
    writing_ = true;
    in_flight_.clear();
    hello_in_flight_ = hello_queued_;
    hello_queued_ = false;
    while (!queue_.empty()) {
      in_flight_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    std::vector<asio::const_buffer> bufs;
    bufs.reserve(in_flight_.size());
    size_t bytes = 0;
    for (const auto& f : in_flight_) {
      bufs.push_back(asio::buffer(f));
      bytes += f.size();
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
          self->decoder_.feed(ByteView(self->rbuf_.data(), n));
          for (;;) {
            auto frame = self->decoder_.next();
            if (!frame.ok()) return self->fail(frame.status().message(), true);
            if (!*frame) break;
            if (!self->on_frame(**frame)) return;
            if (self->dead_ || self->owner_->closed_) return;
          }
          self->read_next();
        });
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
    callbacks_.on_http(fd);
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
  peers_.clear();
  inbound_.clear();
  unclassified_.clear();
}

}  // namespace shoal::node
