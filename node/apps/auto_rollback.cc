#include "node/apps/auto_rollback.h"

#include <fmt/format.h>

namespace shoal::node::apps {

std::string RollbackDecision::description() const {
  return fmt::format("{}{} to v{}: {}", kAutoRollbackPrefix, from, to, reason);
}

bool is_automatic_rollback(std::string_view description) {
  return description.starts_with(kAutoRollbackPrefix);
}

std::set<uint64_t> current_equivalents(const AppState& app) {
  std::set<uint64_t> out;
  const Release* current = app.current_release();
  if (current == nullptr) return out;
  out.insert(current->version);
  const bool rollback = current->description.starts_with("rollback to v") ||
                        is_automatic_rollback(current->description);
  if (!rollback) return out;
  for (const auto& [v, r] : app.releases()) {
    if (r.digest == current->digest && r.config == current->config &&
        r.manifest == current->manifest) {
      out.insert(v);
    }
  }
  return out;
}

namespace {

// Why a current-release instance means the release failed; "" when it does not (yet).
std::string failure_of(const Instance& i) {
  if (i.health == "unhealthy") {
    const std::string why = i.message.starts_with("health check failed")
                                 ? i.message
                                 : "health check: " + i.health_output;
    return fmt::format("instance {} is unhealthy: {}", i.id, why);
  }
  if (i.state == "crashed" || i.state == "failed") {
    return fmt::format("instance {} {}{}{}", i.id, i.state, i.message.empty() ? "" : ": ",
                       i.message);
  }
  return "";
}

}  // namespace

std::optional<RollbackDecision> auto_rollback(const AppState& app, int64_t now_ms) {
  const Release* current = app.current_release();
  const Manifest* manifest = app.current_manifest();
  if (current == nullptr || manifest == nullptr || app.stopped()) return std::nullopt;
  if (is_automatic_rollback(current->description)) return std::nullopt;

  const std::set<uint64_t> same = current_equivalents(app);
  // The release the old code serves from: the newest older one with an instance up.
  uint64_t serving = 0;
  for (const auto& [id, i] : app.instances()) {
    if (i.desired && !same.contains(i.release) && i.release < current->version && is_up(i)) {
      serving = std::max(serving, i.release);
    }
  }
  if (serving == 0 || app.release(serving) == nullptr) return std::nullopt;

  RollbackDecision d{current->version, serving, ""};
  int up = 0;
  for (const auto& [id, i] : app.instances()) {  // by id: the same instance named each time
    if (!i.desired || !same.contains(i.release)) continue;
    if (std::string why = failure_of(i); !why.empty()) {
      d.reason = std::move(why);
      return d;
    }
    up += is_up(i);
  }
  int want = 0;
  for (const auto& [type, f] : app.formation()) want += f.count;
  const int64_t age = now_ms - current->created_ms;
  if (up < want && age >= manifest->deploy.healthy_deadline_ms) {
    d.reason = fmt::format("{} of {} instances up {} s after v{} was made (deploy.healthy_deadline)",
                           up, want, age / 1000, current->version);
    return d;
  }
  return std::nullopt;
}

}  // namespace shoal::node::apps
