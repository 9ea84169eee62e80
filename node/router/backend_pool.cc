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

// Whether an open pooled connection is still open at the backend's end: a peek that does
// not wait sees the backend's FIN (or stray bytes, which would desynchronise the next
// response). One recv() with MSG_DONTWAIT, on every request: switching the socket to
// non-blocking and back around a peek cost three more system calls.
bool still_usable(tcp::socket& s) {
  char c;
  const ssize_t n = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

BackendPool::BackendPool(size_t max_idle, std::chrono::milliseconds eject_for, uint64_t seed)
    : max_idle_(max_idle), eject_for_(eject_for), rng_(seed) {}

size_t BackendPool::KeyHash::operator()(const KeyView& k) const {
  return std::hash<std::string_view>{}(k.host) * 31 + k.port;
}

BackendPool::State* BackendPool::find(const Backend& b) {
  auto it = states_.find(key(b));
  return it == states_.end() ? nullptr : &it->second;
}

const BackendPool::State* BackendPool::find(const Backend& b) const {
  auto it = states_.find(key(b));
  return it == states_.end() ? nullptr : &it->second;
}

BackendPool::State& BackendPool::state(const Backend& b) {
  if (State* s = find(b)) return *s;
  return states_[Key{b.host, b.port}];
}

const Backend* BackendPool::pick(const std::vector<Backend>& backends,
                                 std::span<const Backend* const> tried,
                                 Clock::time_point now) {
  // Two passes over the list instead of collecting candidates: no allocation per request.
  bool allow_ejected = false;
  auto eligible = [&](const Backend& b) {
    return std::find(tried.begin(), tried.end(), &b) == tried.end() &&
           (allow_ejected || !ejected(b, now));
  };
  auto count = [&] {
    size_t n = 0;
    for (const auto& b : backends) n += eligible(b) ? 1 : 0;
    return n;
  };
  size_t n = count();
  if (n == 0) {
    allow_ejected = true;
    n = count();
  }
  if (n == 0) return nullptr;
  auto nth = [&](size_t k) -> const Backend* {
    for (const auto& b : backends) {
      if (eligible(b) && k-- == 0) return &b;
    }
    return nullptr;  // not reached: k < n
  };
  if (n == 1) return nth(0);
  std::uniform_int_distribution<size_t> dist(0, n - 1);
  size_t i = dist(rng_), j = dist(rng_);
  if (j == i) j = (i + 1) % n;
  const Backend* a = nth(i);
  const Backend* b = nth(j);
  return outstanding(*b) < outstanding(*a) ? b : a;
}

std::optional<tcp::socket> BackendPool::take_idle(const Backend& b, Clock::time_point now,
                                                  bool check_open) {
  State* s = find(b);
  if (s == nullptr) return std::nullopt;
  auto& idle = s->idle;
  while (!idle.empty()) {
    Idle candidate = std::move(idle.back());
    idle.pop_back();
    if (now - candidate.since < kIdleMax && candidate.conn.is_open() &&
        (!check_open || still_usable(candidate.conn))) {
      return std::move(candidate.conn);
    }
    boost::system::error_code ec;
    candidate.conn.close(ec);
  }
  return std::nullopt;
}

void BackendPool::give_back(const Backend& b, tcp::socket conn, Clock::time_point now) {
  if (max_idle_ == 0) return;
  auto& idle = state(b).idle;
  idle.push_back(Idle{std::move(conn), now});
  while (idle.size() > max_idle_) idle.pop_front();
}

void BackendPool::drop_idle(const Backend& b) {
  if (State* s = find(b)) s->idle.clear();
}

void BackendPool::eject(const Backend& b, Clock::time_point now) {
  auto& s = state(b);
  s.ejected_until = now + eject_for_;
  s.idle.clear();  // connections to a backend that refuses new ones are suspect too
}

bool BackendPool::ejected(const Backend& b, Clock::time_point now) const {
  const State* s = find(b);
  return s != nullptr && now < s->ejected_until;
}

void BackendPool::started(const Backend& b) { ++state(b).outstanding; }

void BackendPool::finished(const Backend& b) {
  State* s = find(b);
  if (s != nullptr && s->outstanding > 0) --s->outstanding;
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
  std::unordered_set<KeyView, KeyHash, KeyEqual> live;
  for (const auto& app : table.apps()) {
    for (const auto& b : app.backends) live.insert(key(b));
  }
  for (auto it = states_.begin(); it != states_.end();) {
    const bool listed = live.count(KeyEqual::view(it->first)) != 0;
    // A backend with requests outstanding keeps its count until they finish.
    if (!listed && it->second.outstanding == 0) {
      it = states_.erase(it);
    } else {
      if (!listed) it->second.idle.clear();
      ++it;
    }
  }
}

void BackendPool::clear() { states_.clear(); }

}  // namespace shoal::node::router
