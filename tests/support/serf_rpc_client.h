// tests/support/serf_rpc_client.h
//
// RawSerfRpc: a minimal blocking client of Serf's agent RPC over a loopback TCP socket,
// for what the serf CLI cannot do (answer a query through `stream` + `respond`) and for
// sending broken frames. Every read is bounded by a deadline. Not thread-safe: one thread
// drives each object.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "gossip/msgpack_reader.h"
#include "gossip/msgpack_writer.h"
#include "node/serf_rpc/codec.h"

namespace shoal::test {

class RawSerfRpc {
 public:
  static std::unique_ptr<RawSerfRpc> connect(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return nullptr;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return nullptr;
    }
    return std::unique_ptr<RawSerfRpc>(new RawSerfRpc(fd));
  }
  ~RawSerfRpc() { ::close(fd_); }

  bool send(ByteView bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool request(std::string_view command, uint64_t seq, ByteView body = {}) {
    return send(node::serf_rpc::encode_request(command, seq, body));
  }

  // The next whole msgpack value; nullopt on timeout or when the agent closed the socket.
  std::optional<Bytes> read_value(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto len = gossip::msgpack_value_length(buf_);
      if (len.ok() && len->has_value()) {
        Bytes v(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(**len));
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(**len));
        return v;
      }
      if (!len.ok()) return std::nullopt;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      uint8_t chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        closed_ = true;
        return std::nullopt;
      }
      buf_.insert(buf_.end(), chunk, chunk + n);
    }
  }
  std::optional<node::serf_rpc::ResponseHeader> read_header(
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto v = read_value(timeout);
    if (!v) return std::nullopt;
    size_t used = 0;
    auto h = node::serf_rpc::decode_response_header(*v, &used);
    if (!h.ok() || !h->has_value()) return std::nullopt;
    return **h;
  }
  // True once the agent has closed the connection (read returned 0).
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    while (!closed_ && read_value(timeout)) {
    }
    return closed_;
  }

 private:
  explicit RawSerfRpc(int fd) : fd_(fd) {}
  int fd_;
  bool closed_ = false;
  Bytes buf_;
};

// {Key: value} bodies, as the Go client writes them.
inline Bytes rpc_body(std::initializer_list<std::pair<std::string_view, std::string_view>> strs,
                      std::initializer_list<std::pair<std::string_view, uint64_t>> ints = {}) {
  Bytes b;
  gossip::MsgpackWriter w(b);
  w.write_map_header(strs.size() + ints.size());
  for (const auto& [k, v] : strs) {
    w.key(k);
    w.write_str(v);
  }
  for (const auto& [k, v] : ints) {
    w.key(k);
    w.write_uint(v);
  }
  return b;
}

}  // namespace shoal::test
