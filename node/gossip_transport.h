// node/gossip_transport.h
//
// GossipTransport: the UDP socket and TCP listener the gossip core talks through, on one
// address (memberlist uses the same port for both), plus outbound TCP streams.
//
//  - UDP: every datagram received goes to Callbacks::on_packet; send_packet() sends one.
//  - TCP in: each accepted connection is read until stream_message_length() (gossip/wire.h) says one
//    message is complete (at most kMaxStreamBytes, within `tcp_timeout`), handed to
//    Callbacks::on_stream, the reply (if any) written back, and the connection closed.
//  - TCP out: stream_request() connects, writes, and (if asked) reads one framed reply,
//    all within the request's timeout, and reports the bytes or the failure to
//    Callbacks::on_stream_reply exactly once.
//
// Contract:
//  - Single-threaded: created, called and calling back on the io_context's one thread.
//    Callbacks never run from inside send_packet()/stream_request(): failures are posted.
//  - Buffers: ByteViews given to callbacks are valid only during the callback.
//  - Peer trouble (bad frames, resets, timeouts) is logged and counted, never thrown.
//  - close() stops everything; no callback runs after it. The transport must outlive
//    the io_context's run() (async operations keep it alive through shared_ptr).
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "base/bytes.h"
#include "base/status.h"
#include "base/time.h"
#include "gossip/address.h"
#include "gossip/events.h"

namespace shoal::node {

inline constexpr size_t kMaxStreamBytes = 20 * 1024 * 1024;  // memberlist's push-pull cap
inline constexpr size_t kMaxDatagramBytes = 65536;
inline constexpr size_t kMaxInboundStreams = 128;  // push-pulls and stream messages at once

struct TransportStats {
  uint64_t packets_received = 0;
  uint64_t packets_sent = 0;
  uint64_t packets_send_failed = 0;
  uint64_t streams_accepted = 0;
  uint64_t streams_rejected = 0;  // bad framing, too large, too slow
  uint64_t streams_opened = 0;
  uint64_t streams_failed = 0;
};

class GossipTransport : public std::enable_shared_from_this<GossipTransport> {
 public:
  struct Callbacks {
    std::function<void(const gossip::Address& from, ByteView data)> on_packet;
    std::function<std::optional<Bytes>(const gossip::Address& from, ByteView message)>
        on_stream;
    std::function<void(uint64_t id, Result<Bytes> reply)> on_stream_reply;
  };

  // Binds UDP and TCP on `bind`. io_error naming the address (and "in use") on failure.
  static Result<std::shared_ptr<GossipTransport>> open(boost::asio::io_context& io,
                                                       const gossip::Address& bind,
                                                       Duration tcp_timeout,
                                                       Callbacks callbacks);
  ~GossipTransport();

  void start();  // begins receiving and accepting
  void send_packet(const gossip::Address& to, Bytes data);
  void stream_request(gossip::StreamRequest request);
  void close();

  const TransportStats& stats() const { return stats_; }
  bool closed() const { return closed_; }

  // Converters between the core's addresses and Asio's.
  static boost::asio::ip::address to_ip(const gossip::Address& a);
  static gossip::Address from_ip(const boost::asio::ip::address& ip, uint16_t port);

 private:
  friend class InboundStream;
  friend class OutboundStream;
  GossipTransport(boost::asio::io_context& io, Duration tcp_timeout, Callbacks callbacks);
  void receive_next();
  void accept_next();

  boost::asio::io_context& io_;
  Duration tcp_timeout_;
  Callbacks callbacks_;
  boost::asio::ip::udp::socket udp_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<uint8_t> recv_buf_;
  boost::asio::ip::udp::endpoint recv_from_;
  TransportStats stats_;
  size_t inbound_streams_ = 0;  // InboundStreams alive (io thread only)
  bool closed_ = false;
};

}  // namespace shoal::node
