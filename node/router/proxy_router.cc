// node/router/proxy_router.cc
//
// ProxyRouter: Router's implementation. One Worker per IO thread, each with its own
// SO_REUSEPORT acceptor on the same address (the kernel spreads connections over them),
// accepting into ClientSessions that stay on that thread for their whole life.
// GCC 12 at -O1 and up reports -Wmismatched-new-delete inside Asio's awaitable frame
// allocator (operator new/delete of the frame are a matching pair; a false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <map>
#include <mutex>
#include <random>
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

net::awaitable<void> accept_loop(Worker& worker) {
  boost::system::error_code ec;
  for (;;) {
    if (!worker.acceptor || !worker.acceptor->is_open()) co_return;
    tcp::socket socket = co_await worker.acceptor->async_accept(
        net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted || ec == net::error::bad_descriptor) co_return;
    if (ec) {
      // Out of descriptors or the like: back off rather than spin.
      spdlog::warn("router-accept error={}", ec.message());
      net::steady_timer pause(worker.io(), std::chrono::milliseconds(50));
      co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    auto session = std::make_shared<ClientSession>(worker, std::move(socket));
    net::co_spawn(worker.io(), ClientSession::run(std::move(session)),
                  [](std::exception_ptr e) { log_exception("client-session", e); });
  }
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
    unsigned threads = opts.threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    std::random_device rd;
    uint16_t port = opts.listen.port;
    for (unsigned i = 0; i < threads; ++i) {
      const uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ i;
      auto w = std::make_unique<Worker>(shared_, i, seed);
      w->acceptor.emplace(w->io());
      auto& a = *w->acceptor;
      tcp::endpoint ep(address, port);
      a.open(ep.protocol(), ec);
      if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) a.set_option(reuse_port(true), ec);
      if (!ec) a.bind(ep, ec);
      if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
      if (ec) {
        auto shown = gossip::Address::from_bytes(opts.listen.ip_bytes(), port);
        return Status::io_error("router: cannot listen on " +
                                (shown.ok() ? shown->to_string() : opts.listen.to_string()) +
                                ": " + ec.message());
      }
      if (i == 0) {
        port = a.local_endpoint(ec).port();
        auto bound = gossip::Address::from_bytes(opts.listen.ip_bytes(), port);
        if (!bound.ok()) return bound.status();
        bound_ = *bound;
      }
      workers_.push_back(std::move(w));
    }
    for (auto& w : workers_) {
      net::co_spawn(w->io(), accept_loop(*w),
                    [](std::exception_ptr e) { log_exception("accept", e); });
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
    spdlog::info("router-listening address={} threads={}", bound_.to_string(), threads);
    return Status();
  }

  void update(std::shared_ptr<const RouteTable> routes) override {
    if (!routes) routes = std::make_shared<const RouteTable>();
    std::lock_guard lock(shared_.mu);
    shared_.table = std::move(routes);
    shared_.generation.fetch_add(1, std::memory_order_release);
  }

  gossip::Address address() const override { return bound_; }

  std::vector<AppTraffic> traffic() const override {
    std::map<std::string, AppTraffic> sum;
    for (const auto& w : workers_) w->traffic().add_to(sum);
    std::vector<AppTraffic> out;
    out.reserve(sum.size());
    for (auto& [name, t] : sum) out.push_back(std::move(t));
    return out;
  }

  void stop() override {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& w : workers_) w->io().stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    for (auto& w : workers_) w->shutdown();  // closes every connection on that thread
  }

 private:
  RouterShared shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  gossip::Address bound_;
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
