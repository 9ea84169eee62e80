// node/rpc_channel_accept.h
//
// ChannelAccept: the accepting side of the node-to-node channel (node/secure/handshake.h)
// on a connection to --rpc. It reads the caller's hello, answers it (or refuses it), then
// waits for the first plaintext bytes, which say what the connection carries (a Raft
// Hello frame, or an HTTP request): RaftTransport decides, given them.
//
// Contract:
//  - Exactly one of on_ready / on_failed runs, on the io_context's thread, unless cancel()
//    runs first; then neither does.
//  - Everything must finish within `timeout` (a caller that says nothing, or stops half
//    way, is cut off and counted as not_a_handshake).
//  - A caller whose hello no secret of the ring made gets the refusal bytes, then the
//    connection closes; it is counted as refused. Nothing it sent is acted on.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <functional>
#include <memory>
#include <string>

#include "base/bytes.h"
#include "base/time.h"
#include "node/secure/cluster_secret.h"
#include "node/secure/handshake.h"

namespace shoal::node {

class ChannelAccept : public std::enable_shared_from_this<ChannelAccept> {
 public:
  using Ready = std::function<void(const std::shared_ptr<ChannelAccept>&,
                                   boost::asio::ip::tcp::socket,
                                   std::unique_ptr<secure::Session>, Bytes first_plain)>;
  using Failed = std::function<void(const std::shared_ptr<ChannelAccept>&, const std::string& why)>;

  ChannelAccept(boost::asio::ip::tcp::socket sock, std::shared_ptr<const secure::Keyring> ring,
                Duration timeout, Ready on_ready, Failed on_failed);
  void start();
  void cancel();

 private:
  void read_rest();
  void answer();
  void read_plain();
  void fail(const std::string& why);

  boost::asio::ip::tcp::socket sock_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<const secure::Keyring> ring_;
  Duration timeout_;
  Ready on_ready_;
  Failed on_failed_;
  std::array<uint8_t, secure::kHelloBytes> hello_{};
  Bytes reply_;
  std::unique_ptr<secure::Session> session_;
  std::vector<uint8_t> buf_;
  Bytes plain_;
  bool done_ = false;
};

}  // namespace shoal::node
