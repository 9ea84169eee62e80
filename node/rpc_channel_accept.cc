#include "node/rpc_channel_accept.h"

#include <spdlog/spdlog.h>

#include "node/secure/node_keys.h"

namespace shoal::node {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
// What a first byte that opens no hello most likely was, for the log.
std::string what_it_was(uint8_t first) {
  if (first == 0) return "a plaintext Raft frame";
  if (first >= 'A' && first <= 'Z') return "a plaintext HTTP request";
  return "not a channel hello";
}
}  // namespace

ChannelAccept::ChannelAccept(tcp::socket sock, std::shared_ptr<const secure::Keyring> ring,
                             Duration timeout, Ready on_ready, Failed on_failed)
    : sock_(std::move(sock)),
      timer_(sock_.get_executor()),
      ring_(std::move(ring)),
      timeout_(timeout),
      on_ready_(std::move(on_ready)),
      on_failed_(std::move(on_failed)),
      buf_(64 * 1024) {}

void ChannelAccept::start() {
  timer_.expires_after(timeout_);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->done_) return;
    secure::channel_counters().not_a_handshake.inc();
    self->fail("no handshake within " + std::to_string(to_millis(self->timeout_)) + " ms");
  });
  asio::async_read(sock_, asio::buffer(hello_.data(), secure::kMagicBytes),
                   [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                     if (self->done_) return;
                     if (ec) {
                       secure::channel_counters().not_a_handshake.inc();
                       return self->fail("closed before its handshake");
                     }
                     if (!secure::is_hello_magic(ByteView(self->hello_.data(), secure::kMagicBytes))) {
                       secure::channel_counters().not_a_handshake.inc();
                       return self->fail(what_it_was(self->hello_[0]) +
                                         ", refused: this node takes only the node-to-node "
                                         "channel (docs/security.md)");
                     }
                     self->read_rest();
                   });
}

void ChannelAccept::read_rest() {
  asio::async_read(sock_,
                   asio::buffer(hello_.data() + secure::kMagicBytes,
                                secure::kHelloBytes - secure::kMagicBytes),
                   [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                     if (self->done_) return;
                     if (ec) {
                       secure::channel_counters().not_a_handshake.inc();
                       return self->fail("closed inside its handshake");
                     }
                     self->answer();
                   });
}

void ChannelAccept::answer() {
  auto accepted = secure::accept_hello(*ring_, ByteView(hello_.data(), hello_.size()));
  if (!accepted.ok()) {
    if (accepted.status().is(Status::Code::permission_denied)) {
      secure::channel_counters().refused.inc();
      // Say so, so that a node started with the wrong secret reports it plainly; then
      // close whatever it sends next.
      boost::system::error_code ignored;
      asio::write(sock_, asio::buffer(secure::kRefusal), ignored);
    } else {
      secure::channel_counters().not_a_handshake.inc();
    }
    return fail(accepted.status().message());
  }
  session_ = std::move(accepted->session);
  reply_ = std::move(accepted->reply);
  asio::async_write(sock_, asio::buffer(reply_),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      if (self->done_) return;
                      if (ec) return self->fail("write: " + ec.message());
                      secure::channel_counters().accepted.inc();
                      self->read_plain();
                    });
}

void ChannelAccept::read_plain() {
  sock_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](
                                                const boost::system::error_code& ec, size_t n) {
    if (self->done_) return;
    if (ec) return self->fail(ec == asio::error::eof ? "closed after the handshake" : ec.message());
    Status st = self->session_->opener.feed(ByteView(self->buf_.data(), n), self->plain_);
    if (!st.ok()) {
      secure::channel_counters().records_rejected.inc();
      return self->fail(st.message());
    }
    if (self->plain_.empty()) {
      if (self->session_->opener.finished()) return self->fail("ended before saying anything");
      return self->read_plain();
    }
    self->done_ = true;
    self->timer_.cancel();
    auto ready = std::move(self->on_ready_);
    self->on_failed_ = nullptr;
    ready(self, std::move(self->sock_), std::move(self->session_), std::move(self->plain_));
  });
}

void ChannelAccept::fail(const std::string& why) {
  if (done_) return;
  done_ = true;
  timer_.cancel();
  boost::system::error_code ignored;
  sock_.close(ignored);
  auto failed = std::move(on_failed_);
  on_ready_ = nullptr;
  if (failed) failed(shared_from_this(), why);
}

void ChannelAccept::cancel() {
  if (done_) return;
  done_ = true;
  on_ready_ = nullptr;
  on_failed_ = nullptr;
  timer_.cancel();
  boost::system::error_code ignored;
  sock_.close(ignored);
}

}  // namespace shoal::node
