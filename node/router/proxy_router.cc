// node/router/proxy_router.cc
//
// ProxyRouter: Router's implementation. One Worker per IO thread, each with its own
// SO_REUSEPORT acceptor on the same address (the kernel spreads connections over them),
// accepting into ClientSessions that stay on one thread for their whole life. With
// --router-tls, each worker has a second acceptor whose sessions handshake first.
//
// The kernel spreads connections by a hash of their addresses, which leaves the threads
// uneven (64 connections over two threads split 28/36 as often as not), and the busier
// thread's clients wait longer. So an acceptor hands a new connection to the thread with
// the fewest when its own has more: the threads' counts stay within one of each other
// (closes aside, which new connections then even out).

#include <algorithm>
#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <random>
#include <span>
#include <thread>

#include "node/router/client_session.h"
#include "node/router/router.h"
#include "node/router/worker.h"

namespace shoal::node::router {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// Logs what escapes a coroutine instead of letting it end the thread.
void log_exception(std::string_view what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::warn("router-error in={} error={}", what, x.what());
  } catch (...) {
    spdlog::warn("router-error in={} error=unknown", what);
  }
}

// Serves `socket` on `worker`'s thread, where it was accepted or handed to.
// REQUIRES: worker.session_added() for it.
void serve(Worker& worker, tcp::socket socket, bool tls) {
  auto session =
      tls ? std::make_shared<ClientSession>(
                worker, ClientStream(std::move(socket), *worker.tls_listener()),
                worker.tls_contexts())
          : std::make_shared<ClientSession>(worker, ClientStream(std::move(socket)));
  net::co_spawn(worker.io(), ClientSession::run(std::move(session)),
                [](std::exception_ptr e) { log_exception("client-session", e); });
}

// The worker a new connection accepted by `self` goes to: one with the fewest
// connections, `self` when it is one of them (a handover costs a post).
Worker& least_busy(std::span<const std::unique_ptr<Worker>> workers, Worker& self) {
  Worker* best = &self;
  for (const auto& w : workers) {
    if (w->sessions() < best->sessions()) best = w.get();
  }
  return *best;
}

// A descriptor on its way to another worker's thread, counted there meanwhile; closed
// and uncounted unless a socket on that thread took it.
class HandedSocket {
 public:
  HandedSocket(Worker& target, int fd) : target_(target), fd_(fd) { target_.session_added(); }
  ~HandedSocket() {
    if (fd_ < 0) return;
    ::close(fd_);
    target_.session_ended();
  }
  HandedSocket(const HandedSocket&) = delete;
  HandedSocket& operator=(const HandedSocket&) = delete;
  int fd() const { return fd_; }
  void taken() { fd_ = -1; }

 private:
  Worker& target_;
  int fd_;
};

// Hands `socket` to `target`'s thread, to be served there; false (the socket untouched)
// when it cannot be taken out of this thread's io_context.
bool hand_over(Worker& target, tcp::socket& socket, bool tls) {
  boost::system::error_code ec;
  const auto local = socket.local_endpoint(ec);
  if (ec) return false;
  const int fd = socket.release(ec);
  if (ec) return false;
  auto handed = std::make_shared<HandedSocket>(target, fd);
  net::post(target.io(), [&target, protocol = local.protocol(), handed, tls] {
    tcp::socket s(target.io());
    boost::system::error_code assign_ec;
    s.assign(protocol, handed->fd(), assign_ec);
    if (assign_ec) return;  // `handed` closes and uncounts it
    handed->taken();
    serve(target, std::move(s), tls);
  });
  return true;
}

// Accepts into ClientSessions on `acceptor` (the worker's plain or TLS one), placing each
// on the least busy worker of `workers`.
net::awaitable<void> accept_loop(std::span<const std::unique_ptr<Worker>> workers,
                                 Worker& worker, tcp::acceptor& acceptor, bool tls) {
  boost::system::error_code ec;
  for (;;) {
    if (!acceptor.is_open()) co_return;
    tcp::socket socket =
        co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted || ec == net::error::bad_descriptor) co_return;
    if (ec) {
      // Out of descriptors or the like: back off rather than spin.
      spdlog::warn("router-accept error={}", ec.message());
      net::steady_timer pause(worker.io(), std::chrono::milliseconds(50));
      co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    // Past the connection limit a new client is closed at once: the ones being served keep
    // their share of the descriptors and the threads.
    size_t open = 0;
    for (const auto& w : workers) open += static_cast<size_t>(std::max(0, w->sessions()));
    if (open >= worker.options().max_connections) {
      spdlog::debug("router-connection-refused open={} limit={}", open,
                    worker.options().max_connections);
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    // Handed over as a descriptor (a socket belongs to one io_context), or served here.
    Worker& target = least_busy(workers, worker);
    if (&target != &worker && hand_over(target, socket, tls)) continue;
    worker.session_added();
    serve(worker, std::move(socket), tls);
  }
}

// Writes the worker's access-log lines out every second (a busy thread also writes
// whenever it has kFlushBytes).
net::awaitable<void> flush_loop(Worker& worker) {
  net::steady_timer timer(worker.io());
  boost::system::error_code ec;
  for (;;) {
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    worker.access_log().flush();
  }
}

// Opens `a` on `address`:`port` with SO_REUSEPORT (every IO thread binds the same port);
// an error names the address.
Status bind_acceptor(tcp::acceptor& a, const net::ip::address& address, uint16_t port,
                     const gossip::Address& shown) {
  boost::system::error_code ec;
  tcp::endpoint ep(address, port);
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.set_option(reuse_port(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (!ec) return Status();
  auto at = gossip::Address::from_bytes(shown.ip_bytes(), port);
  return Status::io_error("router: cannot listen on " +
                          (at.ok() ? at->to_string() : shown.to_string()) + ": " + ec.message());
}

// The bound address of `a`, in the form of `shown`.
Result<gossip::Address> bound_address(tcp::acceptor& a, const gossip::Address& shown) {
  boost::system::error_code ec;
  auto ep = a.local_endpoint(ec);
  if (ec) return Status::io_error("router: " + ec.message());
  return gossip::Address::from_bytes(shown.ip_bytes(), ep.port());
}

class ProxyRouter final : public Router {
 public:
  explicit ProxyRouter(RouterOptions options) : shared_(std::move(options)) {}
  ~ProxyRouter() override { stop(); }

  Status listen(std::shared_ptr<const RouteTable> routes) {
    update(std::move(routes));
    const auto& opts = shared_.options;
    if (!opts.listen.valid()) return Status::invalid_argument("router: no listen address");
    boost::system::error_code ec;
    auto address = net::ip::make_address(opts.listen.ip_string(), ec);
    if (ec) return Status::invalid_argument("router: bad listen address " + opts.listen.to_string());
    const bool tls = opts.tls_listen.valid();
    net::ip::address tls_address;
    if (tls) {
      tls_address = net::ip::make_address(opts.tls_listen.ip_string(), ec);
      if (ec) {
        return Status::invalid_argument("router: bad TLS listen address " +
                                        opts.tls_listen.to_string());
      }
      auto ctx = make_listener_context();
      if (!ctx.ok()) return ctx.status();
      shared_.tls_listener = std::move(*ctx);
    }
    if (!opts.access_log.empty()) {
      auto file = AccessLogFile::open(opts.access_log, opts.access_log_max_bytes);
      if (!file.ok()) return file.status();
      shared_.access_log_file = std::move(*file);
    }
    unsigned threads = opts.threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    std::random_device rd;
    uint16_t port = opts.listen.port;
    uint16_t tls_port = opts.tls_listen.port;
    for (unsigned i = 0; i < threads; ++i) {
      const uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ i;
      auto w = std::make_unique<Worker>(shared_, i, seed);
      w->acceptor.emplace(w->io());
      SHOAL_RETURN_IF_ERROR(bind_acceptor(*w->acceptor, address, port, opts.listen));
      if (tls) {
        w->tls_acceptor.emplace(w->io());
        SHOAL_RETURN_IF_ERROR(
            bind_acceptor(*w->tls_acceptor, tls_address, tls_port, opts.tls_listen));
      }
      if (i == 0) {  // port 0 picked a free port: the other threads bind that one
        auto bound = bound_address(*w->acceptor, opts.listen);
        if (!bound.ok()) return bound.status();
        bound_ = *bound;
        port = bound_.port;
        if (tls) {
          auto tls_bound = bound_address(*w->tls_acceptor, opts.tls_listen);
          if (!tls_bound.ok()) return tls_bound.status();
          tls_bound_ = *tls_bound;
          tls_port = tls_bound_.port;
        }
      }
      workers_.push_back(std::move(w));
    }
    for (auto& w : workers_) {
      net::co_spawn(w->io(), accept_loop(workers_, *w, *w->acceptor, false),
                    [](std::exception_ptr e) { log_exception("accept", e); });
      if (w->tls_acceptor) {
        net::co_spawn(w->io(), accept_loop(workers_, *w, *w->tls_acceptor, true),
                      [](std::exception_ptr e) { log_exception("accept-tls", e); });
      }
      if (w->access_log().on()) {
        net::co_spawn(w->io(), flush_loop(*w),
                      [](std::exception_ptr e) { log_exception("access-log", e); });
      }
      threads_.emplace_back([worker = w.get()] {
        auto guard = net::make_work_guard(worker->io());
        for (;;) {
          try {
            worker->io().run();
            return;
          } catch (const std::exception& x) {  // a handler threw: log, keep serving
            spdlog::error("router-error in=io-thread error={}", x.what());
          }
        }
      });
    }
    spdlog::info("router-listening address={} tls={} threads={} access_log={}",
                 bound_.to_string(), tls ? tls_bound_.to_string() : std::string("off"), threads,
                 opts.access_log.empty() ? std::string("off") : opts.access_log);
    return Status();
  }

  void update(std::shared_ptr<const RouteTable> routes) override {
    if (!routes) routes = std::make_shared<const RouteTable>();
    std::lock_guard update_lock(update_mu_);
    std::shared_ptr<const TlsContexts> tls;
    const bool tls_on = shared_.options.tls_listen.valid();  // else nobody reads them
    if (tls_on && routes->tls() != tls_pems_ && (!tls_pems_ || *routes->tls() != *tls_pems_)) {
      // Certificates changed: parse only the new ones, outside the workers' mutex.
      std::shared_ptr<const TlsContexts> previous;
      {
        std::lock_guard lock(shared_.mu);
        previous = shared_.tls;
      }
      std::vector<std::string> errors;
      tls = TlsContexts::build(*routes->tls(), previous.get(), &errors);
      for (const auto& e : errors) spdlog::warn("router-tls-certificate-skipped {}", e);
    }
    tls_pems_ = routes->tls();
    std::lock_guard lock(shared_.mu);
    if (tls) shared_.tls = std::move(tls);
    shared_.table = std::move(routes);
    shared_.generation.fetch_add(1, std::memory_order_release);
  }

  gossip::Address address() const override { return bound_; }
  gossip::Address tls_address() const override { return tls_bound_; }

  std::vector<AppTraffic> traffic() const override {
    std::map<std::string, AppTraffic> sum;
    for (const auto& w : workers_) w->traffic().add_to(sum);
    std::vector<AppTraffic> out;
    out.reserve(sum.size());
    for (auto& [name, t] : sum) out.push_back(std::move(t));
    return out;
  }

  std::vector<int> connections() const override {
    std::vector<int> out;
    for (const auto& w : workers_) out.push_back(w->sessions());
    return out;
  }

  uint64_t requests(std::string_view app) const override {
    uint64_t n = 0;
    for (const auto& w : workers_) n += w->traffic().requests(app);
    return n;
  }

  void stop() override {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& w : workers_) w->io().stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    for (auto& w : workers_) {
      w->access_log().flush();
      w->shutdown();  // closes every connection on that thread
    }
  }

 private:
  RouterShared shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  gossip::Address bound_;
  gossip::Address tls_bound_;
  std::mutex update_mu_;  // serialises update(): guards tls_pems_
  std::shared_ptr<const RouteTable::TlsMap> tls_pems_;  // what shared_.tls was built from
  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<Router>> Router::start(RouterOptions options,
                                              std::shared_ptr<const RouteTable> routes) {
  auto router = std::make_unique<ProxyRouter>(std::move(options));
  if (Status s = router->listen(std::move(routes)); !s.ok()) {
    router->stop();
    return s;
  }
  return std::unique_ptr<Router>(std::move(router));
}

}  // namespace shoal::node::router
