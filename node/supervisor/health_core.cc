#include "node/supervisor/health_core.h"

#include <algorithm>
#include <array>

namespace shoal::node::supervisor {

namespace {
constexpr std::array<std::string_view, 4> kHealthNames = {"none", "starting", "healthy",
                                                          "unhealthy"};
constexpr auto kFirstProbeMax = std::chrono::seconds(1);
}  // namespace

std::string_view health_name(Health h) { return kHealthNames[static_cast<size_t>(h)]; }

void HealthTracker::on_start(const std::optional<HealthSpec>& spec, TimePoint now) {
  ++run_;
  probing_ = false;
  passes_ = 0;
  failures_ = 0;
  started_ = now;
  if (spec != spec_) forget();
  spec_ = spec;
  if (!spec_) {
    state_ = Health::none;
    next_ = kTimeNever;
    return;
  }
  if (state_ != Health::unhealthy) state_ = Health::starting;
  next_ = now + std::min<Duration>(std::chrono::milliseconds(spec_->interval_ms), kFirstProbeMax);
}

void HealthTracker::forget() {
  state_ = spec_ ? Health::starting : Health::none;
  output_.clear();
}

void HealthTracker::on_stop() {
  ++run_;
  probing_ = false;
  next_ = kTimeNever;
}

uint64_t HealthTracker::begin() {
  probing_ = true;
  return run_;
}

HealthVerdict HealthTracker::result(uint64_t token, bool pass, std::string output,
                                    TimePoint now) {
  HealthVerdict v;
  if (token != run_ || !probing_ || !spec_) return v;  // an earlier run's, or none asked
  probing_ = false;
  next_ = now + std::chrono::milliseconds(spec_->interval_ms);
  output_ = std::move(output);
  const Health before = state_;
  if (pass) {
    failures_ = 0;
    if (++passes_ >= spec_->healthy_threshold) state_ = Health::healthy;
  } else {
    passes_ = 0;
    if (now - started_ >= std::chrono::milliseconds(spec_->start_period_ms)) ++failures_;
    if (failures_ >= spec_->unhealthy_threshold) {
      state_ = Health::unhealthy;
      next_ = kTimeNever;  // the run is over: the instance is restarted
      v.restart = true;
      v.reason = std::string(kHealthFailedPrefix) + std::to_string(failures_) +
                 (failures_ == 1 ? " time: " : " times: ") + output_;
    }
  }
  v.changed = state_ != before || v.restart;
  return v;
}

}  // namespace shoal::node::supervisor
