// node/router/worker.cc
#include "node/router/worker.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "node/router/body_relay.h"

namespace shoal::node::router {

Worker::Worker(RouterShared& shared, unsigned index, uint64_t seed)
    : shared_(shared),
      index_(index),
      access_log_(shared.access_log_file),
      pool_(shared.options.max_idle_per_backend, shared.options.eject_for, seed),
      id_prefix_(static_cast<uint32_t>(seed >> 16)),
      io_(std::make_unique<boost::asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO)) {}

const std::shared_ptr<const RouteTable>& Worker::routes() {
  if (shared_.generation.load(std::memory_order_acquire) != generation_) {
    std::lock_guard lock(shared_.mu);
    table_ = shared_.table;
    tls_ = shared_.tls;
    generation_ = shared_.generation.load(std::memory_order_relaxed);
    if (table_) pool_.forget_missing(*table_);
  }
  if (!table_) table_ = std::make_shared<const RouteTable>();
  return table_;
}

const std::shared_ptr<const TlsContexts>& Worker::tls_contexts() {
  routes();
  return tls_;
}

namespace {
// Enough for the bodies in flight on one thread at once in most loads; more are allocated
// and freed as needed.
constexpr size_t kRelayBuffersKept = 64;
}  // namespace

std::unique_ptr<char[]> Worker::take_relay_buffer() {
  if (relay_buffers_.empty()) return std::unique_ptr<char[]>(new char[kRelayChunk]);
  auto b = std::move(relay_buffers_.back());
  relay_buffers_.pop_back();
  return b;
}

void Worker::give_back_relay_buffer(std::unique_ptr<char[]> buffer) {
  if (buffer && relay_buffers_.size() < kRelayBuffersKept) {
    relay_buffers_.push_back(std::move(buffer));
  }
}

std::string Worker::next_request_id() {
  const auto& node = shared_.options.node_name;
  // "NODE-PPPPPPPP-N": the worker's prefix as 8 hex digits, then its counter in hex.
  char text[8 + 1 + 16];
  char digits[8];
  const size_t n = std::to_chars(digits, digits + sizeof digits, id_prefix_, 16).ptr - digits;
  std::fill(text, text + 8 - n, '0');
  std::memcpy(text + 8 - n, digits, n);
  text[8] = '-';
  const char* end = std::to_chars(text + 9, text + sizeof text, ++id_counter_, 16).ptr;
  std::string id = node.empty() ? std::string("router") : node;
  id += '-';
  id.append(text, static_cast<size_t>(end - text));
  return id;
}

void Worker::shutdown() {
  if (!io_) return;
  boost::system::error_code ec;
  if (acceptor) acceptor->close(ec);
  if (tls_acceptor) tls_acceptor->close(ec);
  acceptor.reset();
  tls_acceptor.reset();
  pool_.clear();
  io_.reset();
}

}  // namespace shoal::node::router
