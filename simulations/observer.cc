#include "simulations/observer.h"

#include <fmt/format.h>

#include <charconv>

namespace shoal::sim {

namespace {
constexpr uint8_t kAlive = static_cast<uint8_t>(View::alive);
constexpr uint8_t kFailed = static_cast<uint8_t>(View::failed);
constexpr uint8_t kUnknown = static_cast<uint8_t>(View::unknown);
}  // namespace

ClusterObserver::ClusterObserver(size_t n, std::function<bool(size_t, size_t)> reachable)
    : n_(n),
      reachable_(std::move(reachable)),
      view_(n * n, kUnknown),
      up_(n, 0),
      correct_(n, static_cast<uint32_t>(n)),  // nobody is up and nobody is seen: all correct
      alive_cnt_(n, 0),
      failed_cnt_(n, 0),
      kill_of_(n, -1),
      events_(n) {}

size_t ClusterObserver::index_of(const std::string& name) {
  if (name.size() < 2 || name[0] != 'n') return std::string::npos;
  size_t v = 0;
  auto [p, ec] = std::from_chars(name.data() + 1, name.data() + name.size(), v);
  if (ec != std::errc() || p != name.data() + name.size()) return std::string::npos;
  return v;
}

void ClusterObserver::adjust_correct(size_t o, int delta) {
  if (delta == 0) return;
  const bool was = correct_[o] == n_;
  correct_[o] = static_cast<uint32_t>(int64_t(correct_[o]) + delta);
  if (!up_[o]) return;
  sum_correct_live_ = uint64_t(int64_t(sum_correct_live_) + delta);
  const bool is = correct_[o] == n_;
  if (was != is) converged_ = is ? converged_ + 1 : converged_ - 1;
}

void ClusterObserver::on_view(size_t observer, const std::string& member, View view) {
  const size_t m = index_of(member);
  if (m >= n_ || observer >= n_) return;
  set(observer, m, static_cast<uint8_t>(view));
  check_episodes();
}

void ClusterObserver::set(size_t o, size_t m, uint8_t v) {
  uint8_t& cell = view_[o * n_ + m];
  const uint8_t old = cell;
  if (old == v) return;
  cell = v;
  ++view_changes_;
  adjust_correct(o, int(ok(m, v)) - int(ok(m, old)));
  alive_cnt_[o] += (v == kAlive) - (old == kAlive);
  failed_cnt_[o] += (v == kFailed) - (old == kFailed);

  if (up_[o] && kill_of_[m] >= 0) {
    KillRecord& k = kills_[size_t(kill_of_[m])];
    if (old == kAlive) ++k.aware;
    if (v == kAlive) --k.aware;
    touch_kill(k);
  }
  if (up_[o] && up_[m] && o != m) {
    if (v == kFailed) {
      false_failed_.emplace(key(o, m), now_);
      if (reachable_(o, m)) {
        ++false_positives_;
        if (fp_log_.size() < 10) {
          fp_log_.push_back(fmt::format("t={:.3f}s n{} declared n{} failed", to_seconds(now_ - kTimeZero), o, m));
        }
      }
    } else if (old == kFailed) {
      close_pair(o, m);
    }
  }
}

void ClusterObserver::close_pair(size_t o, size_t m) {
  auto it = false_failed_.find(key(o, m));
  if (it == false_failed_.end()) return;
  const Duration d = now_ - it->second;
  false_failed_.erase(it);
  if (!reachable_(o, m)) return;
  if (d > max_false_failed_ || (d == max_false_failed_ && max_pair_.empty())) {
    max_false_failed_ = d;
    max_pair_ = fmt::format("n{} saw n{} failed for {:.3f}s from t={:.3f}s", o, m, to_seconds(d),
                            to_seconds(now_ - kTimeZero) - to_seconds(d));
  }
}

void ClusterObserver::touch_kill(KillRecord& k) {
  if (k.interrupted || k.all) return;
  if (!k.first && k.aware > 0) k.first = now_;
  const size_t live = live_;
  const int pct = live == 0 ? 100 : static_cast<int>(100 * k.aware / live);
  if (pct > k.last_pct) {
    k.last_pct = pct;
    k.curve.emplace_back(to_seconds(now_ - k.at), double(pct) / 100.0);
  }
  if (k.aware >= live) k.all = now_;
}

void ClusterObserver::node_up(size_t i) {
  // A fresh process remembers nobody.
  for (size_t m = 0; m < n_; ++m) set(i, m, kUnknown);
  // Close the kill of this node (if any): it is back.
  if (kill_of_[i] >= 0) {
    KillRecord& k = kills_[size_t(kill_of_[i])];
    if (!k.all) k.interrupted = true;
    std::erase(open_kills_, size_t(kill_of_[i]));
    kill_of_[i] = -1;
  }
  up_[i] = 1;
  ++live_;
  sum_correct_live_ += correct_[i];
  if (correct_[i] == n_) ++converged_;
  // Its truth changed: every observer's (o, i) cell flips correctness.
  for (size_t o = 0; o < n_; ++o) {
    const uint8_t v = view_[o * n_ + i];
    const int was = v != kAlive;  // ok while down
    const int is = v == kAlive;
    adjust_correct(o, is - was);
  }
  for (size_t ki : open_kills_) {
    KillRecord& k = kills_[ki];
    if (view_[i * n_ + k.node] != kAlive) ++k.aware;
    touch_kill(k);
  }
  check_episodes();
}

void ClusterObserver::node_down(size_t i, bool killed) {
  if (!up_[i]) return;
  events_.node_down(i);
  // Pairs where i was the observer or the wrongly failed member are over.
  for (size_t m = 0; m < n_; ++m) {
    if (view_[i * n_ + m] == kFailed && up_[m]) close_pair(i, m);
    if (view_[m * n_ + i] == kFailed && up_[m]) close_pair(m, i);
  }
  if (correct_[i] == n_) --converged_;
  sum_correct_live_ -= correct_[i];
  up_[i] = 0;
  --live_;
  for (size_t o = 0; o < n_; ++o) {
    const uint8_t v = view_[o * n_ + i];
    adjust_correct(o, int(v != kAlive) - int(v == kAlive));
  }
  for (size_t ki : open_kills_) {
    KillRecord& k = kills_[ki];
    if (view_[i * n_ + k.node] != kAlive) --k.aware;
    touch_kill(k);
  }
  if (killed) {
    KillRecord k;
    k.node = i;
    k.at = now_;
    for (size_t o = 0; o < n_; ++o) k.aware += up_[o] && view_[o * n_ + i] != kAlive;
    kills_.push_back(std::move(k));
    kill_of_[i] = int64_t(kills_.size() - 1);
    open_kills_.push_back(kills_.size() - 1);
    touch_kill(kills_.back());
  }
  check_episodes();
}

void ClusterObserver::recovered(const std::string& label) {
  // Marks made while the pair could not talk count from now on.
  for (auto& [k, since] : false_failed_) since = now_;
  open_episode(label);
}

void ClusterObserver::disturbed() {
  for (auto& e : episodes_) {
    if (!e.end) e.interrupted = true;
  }
}

void ClusterObserver::open_episode(const std::string& label) {
  episodes_.push_back(Episode{label, now_, std::nullopt, false});
  check_episodes();
}

void ClusterObserver::check_episodes() {
  if (converged_ != live_) return;
  for (auto& e : episodes_) {
    if (!e.end && !e.interrupted) e.end = now_;
  }
}

Sample ClusterObserver::sample(double t, uint64_t msgs, uint64_t bytes, uint64_t suspicions,
                               double interval_s) {
  Sample s;
  s.t = t;
  s.live = live_;
  s.converged = converged_;
  s.mean_correct = live_ == 0 ? 1.0 : double(sum_correct_live_) / double(live_) / double(n_);
  const double denom = live_ == 0 ? 1.0 : double(live_) * interval_s;
  s.msgs_per_node_s = double(msgs) / denom;
  s.bytes_per_node_s = double(bytes) / denom;
  s.suspicions = suspicions;
  s.false_failed = false_failed_.size();
  return s;
}

void ClusterObserver::finish() {
  std::vector<uint64_t> keys;
  keys.reserve(false_failed_.size());
  for (const auto& [k, since] : false_failed_) keys.push_back(k);
  std::sort(keys.begin(), keys.end());  // deterministic order for the "worst pair" text
  for (uint64_t k : keys) close_pair(size_t(k >> 32), size_t(k & 0xffffffffu));
}

}  // namespace shoal::sim
