#include "node/secure/node_keys.h"

#include <mutex>

namespace shoal::node::secure {

namespace {
std::mutex mu;
std::shared_ptr<const Keyring>& installed() {
  static std::shared_ptr<const Keyring> ring;
  return ring;
}
}  // namespace

void install_node_keyring(std::shared_ptr<const Keyring> ring) {
  std::lock_guard lock(mu);
  installed() = std::move(ring);
}

std::shared_ptr<const Keyring> node_keyring() {
  std::lock_guard lock(mu);
  return installed();
}

ChannelCounters& channel_counters() {
  static ChannelCounters c = [] {
    auto& f = metrics::registry().counter_family(
        "shoal_rpc_channel_total",
        "Node-to-node channel handshakes and records, by what happened (docs/security.md)",
        {"event"});
    return ChannelCounters{f.labels({"accepted"}),         f.labels({"refused"}),
                           f.labels({"not_a_handshake"}),  f.labels({"dial_failed"}),
                           f.labels({"record_rejected"}),  f.labels({"truncated"})};
  }();
  return c;
}

}  // namespace shoal::node::secure
