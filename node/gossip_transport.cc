#include "node/gossip_transport.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "gossip/wire.h"

namespace shoal::node {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

constexpr size_t kReadChunk = 64 * 1024;

// Reads one framed memberlist message from `sock` into `buf`: grows the buffer, asks
// wire::stream_message_length after each read, and calls done(length) or done(error).
// The caller owns socket and buffer and keeps them alive (through `self`).
template <typename Self, typename Done>
void read_framed(std::shared_ptr<Self> self, tcp::socket& sock, std::vector<uint8_t>& buf,
                 size_t& used, Done done) {
  if (buf.size() - used < kReadChunk / 4) {
    buf.resize(std::min(kMaxStreamBytes, std::max(buf.size() * 2, used + kReadChunk)));
  }
  if (used >= kMaxStreamBytes) {
    done(Result<size_t>(Status::invalid_argument(
        "message exceeds the " + std::to_string(kMaxStreamBytes) + " byte stream limit")));
    return;
  }
  sock.async_read_some(
      asio::buffer(buf.data() + used, buf.size() - used),
      [self, &sock, &buf, &used, done](const boost::system::error_code& ec, size_t n) {
        if (ec) {
          if (ec == asio::error::eof) {
            done(Result<size_t>(Status::corruption(
                "stream closed after " + std::to_string(used) +
                " bytes, before a complete message")));
          } else {
            done(Result<size_t>(Status::io_error("read: " + ec.message())));
          }
          return;
        }
        used += n;
        auto len = gossip::stream_message_length(ByteView(buf.data(), used));
        if (!len.ok()) {
          done(Result<size_t>(len.status()));
          return;
        }
        if (len->has_value()) {
          if (**len > used) {
            // The framer promised a complete message it does not have: treat as bad frame.
            done(Result<size_t>(Status::corruption("framer reported a length past the data")));
            return;
          }
          done(Result<size_t>(**len));
          return;
        }
        read_framed(self, sock, buf, used, done);
      });
}

// Ends a stream in either direction: no more deadline, no more bytes, errors ignored
// because the peer may already be gone.
void close_stream(tcp::socket& sock, asio::steady_timer& deadline) {
  deadline.cancel();
  boost::system::error_code ignored;
  sock.shutdown(tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
}

}  // namespace

// ---- inbound: one accepted connection, one message, maybe one reply ----------------

class InboundStream : public std::enable_shared_from_this<InboundStream> {
 public:
  InboundStream(std::shared_ptr<GossipTransport> owner, tcp::socket sock)
      : owner_(std::move(owner)), sock_(std::move(sock)), deadline_(owner_->io_) {
    ++owner_->inbound_streams_;
  }
  ~InboundStream() { --owner_->inbound_streams_; }

  void start() {
    boost::system::error_code ec;
    auto ep = sock_.remote_endpoint(ec);
    if (ec) {
      spdlog::debug("gossip-stream-in dropped reason=\"{}\"", ec.message());
      return;
    }
    peer_ = GossipTransport::from_ip(ep.address(), ep.port());
    deadline_.expires_after(owner_->tcp_timeout_);
    deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (e) return;  // cancelled: finished in time
      self->timed_out_ = true;
      boost::system::error_code ignored;
      self->sock_.close(ignored);
    });
    read_framed(shared_from_this(), sock_, buf_, used_,
                [self = shared_from_this()](Result<size_t> len) { self->on_message(len); });
  }

 private:
  void on_message(const Result<size_t>& len) {
    if (owner_->closed_) return finish();
    if (!len.ok()) {
      ++owner_->stats_.streams_rejected;
      if (used_ == 0 && !timed_out_) {
        // Connected and closed without a byte: a port probe or health check, not an attack.
        spdlog::debug("gossip-stream-in empty from={}", peer_.to_string());
        return finish();
      }
      spdlog::warn("gossip-stream-in rejected from={} bytes={} reason=\"{}\"",
                   peer_.to_string(), used_,
                   timed_out_ ? "no complete message within the TCP timeout"
                              : len.status().to_string());
      return finish();
    }
    auto reply = owner_->callbacks_.on_stream(peer_, ByteView(buf_.data(), *len));
    if (!reply || reply->empty()) return finish();
    reply_ = std::move(*reply);
    asio::async_write(sock_, asio::buffer(reply_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        if (ec && !self->owner_->closed_) {
                          spdlog::warn("gossip-stream-in reply failed to={} reason=\"{}\"",
                                       self->peer_.to_string(), ec.message());
                        }
                        self->finish();
                      });
  }

  void finish() { close_stream(sock_, deadline_); }

  std::shared_ptr<GossipTransport> owner_;
  tcp::socket sock_;
  asio::steady_timer deadline_;
  gossip::Address peer_;
  std::vector<uint8_t> buf_;
  size_t used_ = 0;
  Bytes reply_;
  bool timed_out_ = false;
};

// ---- outbound: connect, write, maybe read one reply, report once -------------------

class OutboundStream : public std::enable_shared_from_this<OutboundStream> {
 public:
  OutboundStream(std::shared_ptr<GossipTransport> owner, gossip::StreamRequest req)
      : owner_(std::move(owner)), req_(std::move(req)), sock_(owner_->io_),
        deadline_(owner_->io_) {}

  void start() {
    const Duration timeout =
        req_.timeout > Duration::zero() ? req_.timeout : owner_->tcp_timeout_;
    deadline_.expires_after(timeout);
    deadline_.async_wait([self = shared_from_this(), timeout](const boost::system::error_code& e) {
      if (e) return;
      self->timed_out_ = true;
      self->timeout_ = timeout;
      boost::system::error_code ignored;
      self->sock_.close(ignored);
    });
    tcp::endpoint ep(GossipTransport::to_ip(req_.to), req_.to.port);
    sock_.async_connect(ep, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return self->fail("connect", ec);
      asio::async_write(self->sock_, asio::buffer(self->req_.data),
                        [self](const boost::system::error_code& wec, size_t) {
                          if (wec) return self->fail("write", wec);
                          if (!self->req_.expect_reply) return self->finish();
                          read_framed(self, self->sock_, self->buf_, self->used_,
                                      [self](Result<size_t> len) { self->on_reply(len); });
                        });
    });
  }

 private:
  void on_reply(const Result<size_t>& len) {
    if (!len.ok()) {
      if (timed_out_) return fail_status(timeout_status());
      return fail_status(len.status().with_context("reply"));
    }
    buf_.resize(*len);
    report(std::move(buf_));
    finish();
  }

  Status timeout_status() const {
    return Status::timeout("no complete exchange within " +
                           std::to_string(to_millis(timeout_)) + " ms");
  }

  void fail(std::string_view step, const boost::system::error_code& ec) {
    if (timed_out_) return fail_status(timeout_status());
    fail_status(Status::io_error(std::string(step) + ": " + ec.message()));
  }

  void fail_status(const Status& st) {
    ++owner_->stats_.streams_failed;
    if (!owner_->closed_) {
      spdlog::debug("gossip-stream-out failed id={} to={} reason=\"{}\"", req_.id,
                    req_.to.to_string(), st.to_string());
    }
    report(st.with_context("stream to " + req_.to.to_string()));
    finish();
  }

  void report(Result<Bytes> r) {
    if (reported_ || !req_.expect_reply || owner_->closed_) return;
    reported_ = true;
    owner_->callbacks_.on_stream_reply(req_.id, std::move(r));
  }

  void finish() { close_stream(sock_, deadline_); }

  std::shared_ptr<GossipTransport> owner_;
  gossip::StreamRequest req_;
  tcp::socket sock_;
  asio::steady_timer deadline_;
  std::vector<uint8_t> buf_;
  size_t used_ = 0;
  bool timed_out_ = false;
  bool reported_ = false;
  Duration timeout_{};
};

// ---- the transport ---------------------------------------------------------------------

asio::ip::address GossipTransport::to_ip(const gossip::Address& a) {
  if (a.ip_len == 16) {
    asio::ip::address_v6::bytes_type b;
    std::copy(a.ip.begin(), a.ip.begin() + 16, b.begin());
    return asio::ip::address_v6(b);
  }
  asio::ip::address_v4::bytes_type b;
  std::copy(a.ip.begin(), a.ip.begin() + 4, b.begin());
  return asio::ip::address_v4(b);
}

gossip::Address GossipTransport::from_ip(const asio::ip::address& ip, uint16_t port) {
  if (ip.is_v4()) {
    auto b = ip.to_v4().to_bytes();
    return *gossip::Address::from_bytes(ByteView(b.data(), b.size()), port);
  }
  auto b = ip.to_v6().to_bytes();  // v4-mapped addresses fold to v4 in from_bytes
  return *gossip::Address::from_bytes(ByteView(b.data(), b.size()), port);
}

GossipTransport::GossipTransport(asio::io_context& io, Duration tcp_timeout,
                                 Callbacks callbacks)
    : io_(io), tcp_timeout_(tcp_timeout), callbacks_(std::move(callbacks)), udp_(io),
      acceptor_(io), recv_buf_(kMaxDatagramBytes) {}

GossipTransport::~GossipTransport() { close(); }

Result<std::shared_ptr<GossipTransport>> GossipTransport::open(asio::io_context& io,
                                                               const gossip::Address& bind,
                                                               Duration tcp_timeout,
                                                               Callbacks callbacks) {
  std::shared_ptr<GossipTransport> t(new GossipTransport(io, tcp_timeout, std::move(callbacks)));
  const auto ip = to_ip(bind);
  boost::system::error_code ec;
  tcp::endpoint tep(ip, bind.port);
  t->acceptor_.open(tep.protocol(), ec);
  if (!ec) t->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) t->acceptor_.bind(tep, ec);
  if (!ec) t->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::io_error("cannot listen for gossip on TCP " + bind.to_string() + ": " +
                            ec.message());
  }
  udp::endpoint uep(ip, bind.port);
  t->udp_.open(uep.protocol(), ec);
  if (!ec) t->udp_.bind(uep, ec);
  if (ec) {
    return Status::io_error("cannot bind gossip UDP " + bind.to_string() + ": " + ec.message());
  }
  // Room for bursts of gossip; the kernel caps it, which is fine.
  t->udp_.set_option(asio::socket_base::receive_buffer_size(2 * 1024 * 1024), ec);
  if (ec) spdlog::debug("gossip-udp could not enlarge receive buffer: {}", ec.message());
  return t;
}

void GossipTransport::start() {
  receive_next();
  accept_next();
}

void GossipTransport::receive_next() {
  if (closed_) return;
  udp_.async_receive_from(
      asio::buffer(recv_buf_), recv_from_,
      [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
        if (self->closed_) return;
        if (ec) {
          if (ec != asio::error::operation_aborted) {
            spdlog::warn("gossip-udp receive failed reason=\"{}\"", ec.message());
          }
        } else {
          ++self->stats_.packets_received;
          self->callbacks_.on_packet(
              from_ip(self->recv_from_.address(), self->recv_from_.port()),
              ByteView(self->recv_buf_.data(), n));
        }
        self->receive_next();
      });
}

void GossipTransport::accept_next() {
  if (closed_) return;
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                     tcp::socket sock) {
    if (self->closed_) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      spdlog::warn("gossip-tcp accept failed reason=\"{}\"", ec.message());
      // Out of descriptors and the like: back off a little instead of spinning.
      auto timer = std::make_shared<asio::steady_timer>(self->io_, std::chrono::milliseconds(50));
      timer->async_wait([self, timer](const boost::system::error_code&) { self->accept_next(); });
      return;
    }
    ++self->stats_.streams_accepted;
    if (self->inbound_streams_ >= kMaxInboundStreams) {
      // Each stream holds up to kMaxStreamBytes until tcp_timeout: past this many at once,
      // a flood of connections would hold the memory, so new ones are turned away.
      ++self->stats_.streams_rejected;
      spdlog::debug("gossip-stream-in refused reason=\"{} streams open\"", kMaxInboundStreams);
      boost::system::error_code ignored;
      sock.close(ignored);
    } else {
      std::make_shared<InboundStream>(self, std::move(sock))->start();
    }
    self->accept_next();
  });
}

void GossipTransport::send_packet(const gossip::Address& to, Bytes data) {
  if (closed_) return;
  if (!to.valid() || data.size() > kMaxDatagramBytes) {
    ++stats_.packets_send_failed;
    spdlog::warn("gossip-udp not sending to={} bytes={} reason=\"{}\"", to.to_string(),
                 data.size(), to.valid() ? "larger than a datagram" : "invalid address");
    return;
  }
  auto buf = std::make_shared<Bytes>(std::move(data));
  udp::endpoint ep(to_ip(to), to.port);
  udp_.async_send_to(asio::buffer(*buf), ep,
                     [self = shared_from_this(), buf, to](const boost::system::error_code& ec,
                                                          size_t) {
                       if (ec) {
                         ++self->stats_.packets_send_failed;
                         if (!self->closed_) {
                           spdlog::debug("gossip-udp send failed to={} reason=\"{}\"",
                                         to.to_string(), ec.message());
                         }
                         return;
                       }
                       ++self->stats_.packets_sent;
                     });
}

void GossipTransport::stream_request(gossip::StreamRequest request) {
  if (closed_) return;
  ++stats_.streams_opened;
  if (!request.to.valid()) {
    // Report asynchronously: the core must never be re-entered from its own action.
    asio::post(io_, [self = shared_from_this(), id = request.id, expect = request.expect_reply,
                     to = request.to]() {
      ++self->stats_.streams_failed;
      if (expect && !self->closed_) {
        self->callbacks_.on_stream_reply(
            id, Status::invalid_argument("stream to " + to.to_string() + ": invalid address"));
      }
    });
    return;
  }
  std::make_shared<OutboundStream>(shared_from_this(), std::move(request))->start();
}

void GossipTransport::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  udp_.close(ignored);
  acceptor_.close(ignored);
}

}  // namespace shoal::node
