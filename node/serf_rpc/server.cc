#include "node/serf_rpc/server.h"

#include <spdlog/spdlog.h>

#include <future>

#include "node/serf_rpc/session.h"

namespace shoal::node {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using serf_rpc::Session;

void SerfRpcServer::Impl::post(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(post_mu_);
  if (io_finished_) return;
  asio::post(io, std::move(fn));
}

void SerfRpcServer::Impl::run_blocking(std::function<void()> fn) {
  asio::post(*workers, std::move(fn));
}

void SerfRpcServer::Impl::mark_io_finished() {
  std::lock_guard<std::mutex> lock(post_mu_);
  io_finished_ = true;
}

void SerfRpcServer::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](boost::system::error_code ec,
                                                    tcp::socket socket) {
    if (self->stopped) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      spdlog::warn("serf-rpc-accept-failed reason=\"{}\"", ec.message());
    } else if (self->sessions.size() >= self->options.max_connections) {
      spdlog::warn("serf-rpc-refused reason=\"{} connections open (the limit)\"",
                   self->sessions.size());
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      auto session = std::make_shared<Session>(self, std::move(socket));
      self->sessions[session.get()] = session;
      session->start();
    }
    self->accept();
  });
}

SerfRpcServer::SerfRpcServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

SerfRpcServer::~SerfRpcServer() { stop(); }

Result<std::unique_ptr<SerfRpcServer>> SerfRpcServer::start(const gossip::Address& listen,
                                                            AgentControl& agent,
                                                            SerfRpcOptions options) {
  auto impl = std::make_shared<Impl>(agent, std::move(options));
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(listen.ip_string(), ec);
  if (ec) return Status::invalid_argument("--rpc-serf: bad address " + listen.to_string());
  const tcp::endpoint ep(ip, listen.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::io_error("--rpc-serf: cannot listen on " + listen.to_string() + ": " +
                            ec.message());
  }
  const auto local = impl->acceptor.local_endpoint(ec);
  auto bound = gossip::Address::parse(
      (local.address().is_v6() ? "[" + local.address().to_string() + "]"
                               : local.address().to_string()) +
      ":" + std::to_string(local.port()));
  impl->bound = bound.ok() ? *bound : listen;
  impl->workers = std::make_unique<asio::thread_pool>(std::max(1, impl->options.worker_threads));
  impl->keep_running.emplace(impl->io.get_executor());
  impl->accept();
  impl->io_thread = std::thread([impl] { impl->io.run(); });
  spdlog::info("serf-rpc-listen addr={} auth={}", impl->bound.to_string(),
               impl->options.auth_key.empty() ? "off" : "on");
  return std::unique_ptr<SerfRpcServer>(new SerfRpcServer(impl));
}

gossip::Address SerfRpcServer::address() const { return impl_->bound; }

void SerfRpcServer::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  auto impl = impl_;
  auto end_all = [impl] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    std::vector<std::shared_ptr<Session>> open;
    for (auto& [ptr, weak] : impl->sessions) {
      if (auto s = weak.lock()) open.push_back(std::move(s));
    }
    for (auto& s : open) s->end_after_flush("server stopping");
  };
  // Once end_all has run, no session dispatches new work to the pool.
  auto ended = std::make_shared<std::promise<void>>();
  auto ended_future = ended->get_future();
  impl->post([end_all, ended] {
    end_all();
    ended->set_value();
  });
  ended_future.wait_for(std::chrono::seconds(5));
  // Requests in flight finish (each AgentControl call is bounded); their answers are
  // posted to the IO thread, which is still running.
  impl->workers->join();
  impl->post([impl, end_all] {
    end_all();
    if (impl->sessions.empty()) return;
    impl->linger_timer.expires_after(impl->options.linger);
    impl->linger_timer.async_wait([impl](boost::system::error_code ec) {
      if (ec) return;
      std::vector<std::shared_ptr<Session>> open;
      for (auto& [ptr, weak] : impl->sessions) {
        if (auto s = weak.lock()) open.push_back(std::move(s));
      }
      for (auto& s : open) s->close("server stopped");
    });
  });
  impl->keep_running.reset();
  impl->io_thread.join();
  impl->mark_io_finished();
  // Run what was posted between the loop's end and the mark: closed sessions ignore it,
  // and a handler left queued would keep its session (and this Impl) alive forever.
  impl->io.restart();
  impl->io.poll();
  spdlog::info("serf-rpc-stopped addr={}", impl->bound.to_string());
}

}  // namespace shoal::node
