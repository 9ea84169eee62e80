#include "node/rpc_http_relay.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "node/secure/node_keys.h"

namespace shoal::node {

namespace asio = boost::asio;
using asio::ip::tcp;
using local_stream = asio::local::stream_protocol;

namespace {
constexpr size_t kPiece = secure::kMaxRecordPlain;
}

HttpRelay::HttpRelay(tcp::socket net, local_stream::socket local,
                     std::unique_ptr<secure::Session> session, std::function<void(HttpRelay*)> on_end)
    : net_(std::move(net)),
      local_(std::move(local)),
      session_(std::move(session)),
      on_end_(std::move(on_end)),
      net_buf_(kPiece),
      local_buf_(kPiece) {}

Result<std::shared_ptr<HttpRelay>> HttpRelay::start(tcp::socket net,
                                                    std::unique_ptr<secure::Session> session,
                                                    Bytes first_plain,
                                                    const std::function<void(int fd)>& adopt,
                                                    std::function<void(HttpRelay*)> on_end) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return Status::io_error(std::string("socketpair: ") + std::strerror(errno));
  }
  // Room for a few records each way: with the default (~200 KiB) the server and the relay
  // take turns a piece at a time instead of overlapping.
  for (int fd : fds) {
    const int size = static_cast<int>(4 * kPiece);
    (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  boost::system::error_code ec;
  local_stream::socket local(net.get_executor());
  local.assign(local_stream(), fds[0], ec);
  if (ec) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Status::io_error("socketpair: " + ec.message());
  }
  std::shared_ptr<HttpRelay> r(
      new HttpRelay(std::move(net), std::move(local), std::move(session), std::move(on_end)));
  adopt(fds[1]);
  r->write_local(std::move(first_plain));
  r->read_local();
  return r;
}

// Writes what came from the caller to the server; reads the network again once written.
void HttpRelay::write_local(Bytes plain) {
  to_local_ = std::move(plain);
  asio::async_write(local_, asio::buffer(to_local_),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      if (self->done_) return;
                      if (ec) return self->finish("");  // the server went away
                      self->read_net();
                    });
}

void HttpRelay::read_net() {
  net_.async_read_some(asio::buffer(net_buf_), [self = shared_from_this()](
                                                   const boost::system::error_code& ec, size_t n) {
    if (self->done_) return;
    auto& opener = self->session_->opener;
    if (ec) {
      // Reading stops at the caller's final record, so an end seen here is a truncation.
      if (ec != asio::error::eof) return self->finish("");
      secure::channel_counters().truncated.inc();
      return self->finish(opener.end_of_input().message());
    }
    Bytes plain;
    Status st = opener.feed(ByteView(self->net_buf_.data(), n), plain);
    if (!st.ok()) {
      secure::channel_counters().records_rejected.inc();
      return self->finish(st.message());
    }
    if (opener.finished()) {
      // The caller said all it will: the server sees the end of its request stream once
      // what is left is written; its answer still flows back.
      self->to_local_ = std::move(plain);
      asio::async_write(self->local_, asio::buffer(self->to_local_),
                        [self](const boost::system::error_code& wec, size_t) {
                          if (self->done_) return;
                          if (wec) return self->finish("");
                          boost::system::error_code ignored;
                          self->local_.shutdown(local_stream::socket::shutdown_send, ignored);
                        });
      return;
    }
    if (plain.empty()) return self->read_net();
    self->write_local(std::move(plain));
  });
}

void HttpRelay::read_local() {
  local_.async_read_some(asio::buffer(local_buf_), [self = shared_from_this()](
                                                       const boost::system::error_code& ec, size_t n) {
    if (self->done_) return;
    self->to_net_.clear();
    if (ec) {
      // The server closed (Connection: close, or its idle timeout): end our stream cleanly.
      self->session_->sealer.close(self->to_net_);
      asio::async_write(self->net_, asio::buffer(self->to_net_),
                        [self](const boost::system::error_code&, size_t) { self->finish(""); });
      return;
    }
    self->session_->sealer.seal(ByteView(self->local_buf_.data(), n), self->to_net_);
    asio::async_write(self->net_, asio::buffer(self->to_net_),
                      [self](const boost::system::error_code& wec, size_t) {
                        if (self->done_) return;
                        if (wec) return self->finish("");
                        self->read_local();
                      });
  });
}

void HttpRelay::finish(const std::string& why) {
  if (done_) return;
  done_ = true;
  if (!why.empty()) spdlog::warn("rpc-channel-closed reason=\"{}\"", why);
  boost::system::error_code ignored;
  net_.close(ignored);
  local_.close(ignored);
  if (auto end = std::move(on_end_)) end(this);
}

void HttpRelay::close() {
  if (done_) return;
  done_ = true;
  on_end_ = nullptr;
  boost::system::error_code ignored;
  net_.close(ignored);
  local_.close(ignored);
}

}  // namespace shoal::node
