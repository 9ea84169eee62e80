// node/router/backend_pool.cc
#include "node/router/backend_pool.h"

#include <boost/asio/ip/tcp.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <unordered_set>

namespace shoal::node::router {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Whether a pooled connection is still open: a peek that does not wait sees the backend's
// FIN (or stray bytes, which would desynchronise the next response). One recv() with
// MSG_DONTWAIT, on every request: switching the socket to non-blocking and back around a
// peek cost three more system calls.
bool still_usable(tcp::socket& s) {
  if (!s.is_open()) return false;
  char c;
  const ssize_t n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

BackendPool::BackendPool(size_t max_idle, std::chrono::milliseconds eject_for, uint64_t seed)
    : max_idle_(max_idle), eject_for_(eject_for), rng_(seed) {}

std::string BackendPool::key(const Backend& b) {
  return b.host + ":" + std::to_string(b.port);
}

const BackendPool::State* BackendPool::find(const Backend& b) const {
  auto it = states_.find(key(b));
  return it == states_.end() ? nullptr : &it->second;
}

const Backend* BackendPool::pick(const std::vector<Backend>& backends,
                                 const std::vector<const Backend*>& tried,
                                 Clock::time_point now) {
  std::vector<const Backend*> healthy, any;
  for (const auto& b : backends) {
    if (std::find(tried.begin(), tried.end(), &b) != tried.end()) continue;
    any.push_back(&b);
    if (!ejected(b, now)) healthy.push_back(&b);
  }
  auto& from = healthy.empty() ? any : healthy;
  if (from.empty()) return nullptr;
  if (from.size() == 1) return from[0];
  std::uniform_int_distribution<size_t> dist(0, from.size() - 1);
  size_t i = dist(rng_), j = dist(rng_);
  if (j == i) j = (i + 1) % from.size();
  return outstanding(*from[j]) < outstanding(*from[i]) ? from[j] : from[i];
}

std::optional<boost::beast::tcp_stream> BackendPool::take_idle(const Backend& b,
                                                               Clock::time_point now) {
  auto it = states_.find(key(b));
  if (it == states_.end()) return std::nullopt;
  auto& idle = it->second.idle;
  while (!idle.empty()) {
    Idle candidate = std::move(idle.back());
    idle.pop_back();
    if (now - candidate.since < kIdleMax && still_usable(candidate.conn.socket())) {
      return std::move(candidate.conn);
    }
    boost::system::error_code ec;
    candidate.conn.socket().close(ec);
  }
  return std::nullopt;
}

void BackendPool::give_back(const Backend& b, boost::beast::tcp_stream conn,
                            Clock::time_point now) {
  if (max_idle_ == 0) return;
  conn.expires_never();
  auto& idle = states_[key(b)].idle;
  idle.push_back(Idle{std::move(conn), now});
  while (idle.size() > max_idle_) idle.pop_front();
}

void BackendPool::eject(const Backend& b, Clock::time_point now) {
  auto& s = states_[key(b)];
  s.ejected_until = now + eject_for_;
  s.idle.clear();  // connections to a backend that refuses new ones are suspect too
}

bool BackendPool::ejected(const Backend& b, Clock::time_point now) const {
  const State* s = find(b);
  return s != nullptr && now < s->ejected_until;
}

void BackendPool::started(const Backend& b) { ++states_[key(b)].outstanding; }

void BackendPool::finished(const Backend& b) {
  auto it = states_.find(key(b));
  if (it != states_.end() && it->second.outstanding > 0) --it->second.outstanding;
}

size_t BackendPool::outstanding(const Backend& b) const {
  const State* s = find(b);
  return s == nullptr ? 0 : s->outstanding;
}

size_t BackendPool::idle_count(const Backend& b) const {
  const State* s = find(b);
  return s == nullptr ? 0 : s->idle.size();
}

void BackendPool::forget_missing(const RouteTable& table) {
  std::unordered_set<std::string> live;
  for (const auto& app : table.apps()) {
    for (const auto& b : app.backends) live.insert(key(b));
  }
  for (auto it = states_.begin(); it != states_.end();) {
    // A backend with requests outstanding keeps its count until they finish.
    if (live.count(it->first) == 0 && it->second.outstanding == 0) {
      it = states_.erase(it);
    } else {
      if (live.count(it->first) == 0) it->second.idle.clear();
      ++it;
    }
  }
}

void BackendPool::clear() { states_.clear(); }

}  // namespace shoal::node::router
