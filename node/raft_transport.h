// node/raft_transport.h
//
// RaftTransport: node-to-node TCP for the Raft host (raft/wire.h): one listener on --rpc,
// one connection per peer pair, length-prefixed frames, reconnect with backoff.
//
// With Options::keys (every agent but one started with --insecure-rpc), each connection
// first runs the node-to-node channel's handshake (node/secure/handshake.h): a caller
// without a cluster secret of ours is refused before it says anything, and every byte
// after is sealed in records (node/secure/session.h). A connection that fails the
// handshake, or whose record fails to open, is closed and counted (rejected).
//
// The --rpc port also serves the node-to-node HTTP API (docs/apps.md "Node to node"): the
// first (plaintext) byte says which a connection carries. A Raft connection starts with
// its Hello frame's u32 big-endian length, whose first byte is 0; an HTTP request starts
// with an upper-case method letter and is handed to Callbacks::on_http (through an
// HttpRelay when the channel is sealed); anything else, or silence past
// Options::first_byte_timeout, is closed and counted as rejected.
//
// A connection opens with a Hello frame from each side naming its node; after that every
// frame is a payload for Callbacks::on_frame(peer, payload). When both nodes dial each
// other at once, both keep the connection dialed by the smaller node id and close the
// other, so a pair settles on one.
//
// Contract:
//  - Single-threaded: created, called and calling back on the io_context's one thread;
//    callbacks never run from inside send().
//  - send() never blocks: the payload is queued (at most kMaxQueuedBytes per peer; past it,
//    or while the peer is in its reconnect backoff, frames are dropped and counted — Raft
//    retransmits). Frames to one peer leave in send() order.
//  - Bad input (a frame over kMaxFrameBytes, a bad Hello, a Hello from an unexpected node)
//    closes that connection and is counted; it is never thrown.
//  - close() stops everything; no callback runs after it.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "base/time.h"
#include "gossip/address.h"
#include "node/secure/cluster_secret.h"
#include "node/secure/session.h"
#include "raft/types.h"

namespace shoal::node {

inline constexpr size_t kMaxQueuedBytes = 64u << 20;

struct RaftTransportStats {
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t frames_dropped = 0;     // queue full, or peer in backoff / unknown address
  uint64_t connects = 0;           // outbound attempts
  uint64_t connect_failures = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;           // bad frames, bad or unexpected hello
  uint64_t duplicates_closed = 0;  // the losing side of a simultaneous dial
  uint64_t http_handoffs = 0;      // accepted connections that were HTTP
  uint64_t handshake_failures = 0; // channel handshakes that failed, either way
};

class RaftConnection;
class ChannelAccept;
class HttpRelay;
struct FirstByteWait;

class RaftTransport : public std::enable_shared_from_this<RaftTransport> {
 public:
  struct Callbacks {
    std::function<void(const raft::NodeId& from, ByteView payload)> on_frame;
    std::function<void(const raft::NodeId& peer, const std::string& why)> on_bad_frame;
    // Takes ownership of the socket (a file descriptor) of an accepted HTTP connection;
    // its first request is still unread. A sealed connection comes as one end of a
    // socketpair (HttpRelay) and `remote` names the caller; "" otherwise. Unset: such
    // connections are closed.
    std::function<void(int fd, const std::string& remote)> on_http;
    // The connection with `peer` ended (closed or reset by the other end, not by us).
    std::function<void(const raft::NodeId& peer)> on_lost;
    // Dialing `peer` was refused: nothing listens at its address, so its process is gone.
    std::function<void(const raft::NodeId& peer)> on_refused;
  };
  struct Options {
    Duration connect_timeout = std::chrono::seconds(2);
    Duration backoff_min = std::chrono::milliseconds(50);
    Duration backoff_max = std::chrono::seconds(2);
    Duration first_byte_timeout = std::chrono::seconds(10);
    // The cluster secrets: the first dials, all are accepted. Null: plaintext (only for
    // --insecure-rpc on loopback).
    std::shared_ptr<const secure::Keyring> keys;
    // Accepted connections not yet through the handshake (or first byte) at once; past it,
    // new ones are closed at accept, so a flood cannot hold the descriptors.
    size_t max_unauthenticated = 128;
  };

  // Listens on `bind` (io_error naming the address if it cannot).
  static Result<std::shared_ptr<RaftTransport>> open(boost::asio::io_context& io,
                                                     const gossip::Address& bind,
                                                     raft::NodeId self, Callbacks callbacks,
                                                     Options options);
  ~RaftTransport();

  void start();
  // Queues one frame payload for `peer`, dialing `addr` if there is no connection.
  void send(const raft::NodeId& peer, const gossip::Address& addr, Bytes payload);
  // Dials `peer` unless a connection exists: after on_lost, whether it still listens
  // (a dial that fails otherwise than refused is tried again, up to 3 times).
  void probe(const raft::NodeId& peer, const gossip::Address& addr, int attempt = 1);
  // Counts a frame the caller could not use.
  void drop(size_t n = 1) { stats_.frames_dropped += n; }
  void close();

  gossip::Address address() const;
  const RaftTransportStats& stats() const { return stats_; }
  size_t connections() const { return peers_.size(); }

 private:
  friend class RaftConnection;
  RaftTransport(boost::asio::io_context& io, raft::NodeId self, Callbacks callbacks,
                Options options);
  void accept_next();
  // Waits for an accepted connection's first byte and hands it to Raft or HTTP.
  void classify(boost::asio::ip::tcp::socket sock);
  void classified(const std::shared_ptr<FirstByteWait>& w);
  // A sealed connection whose handshake is done: Raft or HTTP by its first plaintext byte.
  void dispatch(boost::asio::ip::tcp::socket sock, std::unique_ptr<secure::Session> session,
                Bytes first_plain);
  // Called by a connection once both Hellos were exchanged.
  void established(const std::shared_ptr<RaftConnection>& c);
  void closed(const std::shared_ptr<RaftConnection>& c, const std::string& why, bool bad);

  boost::asio::io_context& io_;
  raft::NodeId self_;
  Callbacks callbacks_;
  Options opts_;
  boost::asio::ip::tcp::acceptor acceptor_;
  // The connection frames to a peer go to (dialing, or established).
  std::map<raft::NodeId, std::shared_ptr<RaftConnection>> peers_;
  std::set<std::shared_ptr<RaftConnection>> inbound_;  // accepted, Hello not yet read
  std::set<std::shared_ptr<FirstByteWait>> unclassified_;  // accepted, first byte not seen
  std::set<std::shared_ptr<ChannelAccept>> handshaking_;   // accepted, handshake running
  std::map<HttpRelay*, std::shared_ptr<HttpRelay>> relays_;  // sealed HTTP connections
  struct Backoff {
    TimePoint until{};
    Duration next{};
  };
  std::map<raft::NodeId, Backoff> backoff_;
  RaftTransportStats stats_;
  bool closed_ = false;
};

}  // namespace shoal::node
