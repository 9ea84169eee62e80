#include "node/rpc_probe.h"

#include <array>

#include "node/gossip_transport.h"
#include "node/secure/handshake.h"

namespace shoal::node {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct Probe : std::enable_shared_from_this<Probe> {
  Probe(asio::io_context& io, std::shared_ptr<const secure::Keyring> r,
        std::function<void(Status)> d)
      : sock(io), timer(io), ring(std::move(r)), hs(ring->primary()), done(std::move(d)) {}

  void start(const gossip::Address& addr, Duration timeout) {
    where = addr.to_string();
    timer.expires_after(timeout);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->finish(Status::unavailable(self->where + " did not finish the handshake in time"));
    });
    sock.async_connect(tcp::endpoint(GossipTransport::to_ip(addr), addr.port),
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         if (ec) return self->finish(Status::unavailable(self->where + ": " + ec.message()));
                         self->send();
                       });
  }

  void send() {
    asio::async_write(sock, asio::buffer(hs.hello().data(), hs.hello().size()),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        if (ec) return self->finish(Status::unavailable(self->where + ": " + ec.message()));
                        self->receive();
                      });
  }

  void receive() {
    asio::async_read(sock, asio::buffer(answer), [self = shared_from_this()](
                                                     const boost::system::error_code& ec, size_t n) {
      const ByteView got(self->answer.data(), n);
      if (ec && !(ec == asio::error::eof && secure::is_refusal(got))) {
        return self->finish(Status::unavailable(self->where + " did not answer as a Shoal node"));
      }
      auto session = self->hs.finish(got);
      if (session.ok()) return self->finish(Status());
      if (session.status().is(Status::Code::corruption)) {
        return self->finish(Status::unavailable(self->where + " did not answer as a Shoal node"));
      }
      self->finish(session.status().with_context(self->where));
    });
  }

  void finish(Status st) {
    if (!done) return;
    timer.cancel();
    boost::system::error_code ignored;
    sock.close(ignored);
    auto d = std::move(done);
    done = nullptr;
    d(std::move(st));
  }

  tcp::socket sock;
  asio::steady_timer timer;
  std::shared_ptr<const secure::Keyring> ring;
  secure::ClientHandshake hs;
  std::function<void(Status)> done;
  std::array<uint8_t, secure::kHelloBytes> answer{};
  std::string where;
};

}  // namespace

void probe_channel(asio::io_context& io, const gossip::Address& rpc,
                   std::shared_ptr<const secure::Keyring> ring, Duration timeout,
                   std::function<void(Status)> done) {
  auto p = std::make_shared<Probe>(io, std::move(ring), std::move(done));
  p->start(rpc, timeout);
}

}  // namespace shoal::node
