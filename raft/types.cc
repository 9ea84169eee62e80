#include "raft/types.h"

#include <algorithm>

namespace shoal::raft {

namespace {
bool has(const std::vector<NodeId>& ids, const NodeId& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}
void erase(std::vector<NodeId>& ids, const NodeId& id) {
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
}
}  // namespace

bool ConfigState::is_voter(const NodeId& id) const { return has(voters, id); }
bool ConfigState::is_learner(const NodeId& id) const { return has(learners, id); }

ConfigState apply_config_change(ConfigState config, const ConfigChange& change) {
  erase(config.voters, change.node);
  erase(config.learners, change.node);
  switch (change.type) {
    case ConfigChangeType::add_voter: config.voters.push_back(change.node); break;
    case ConfigChangeType::add_learner: config.learners.push_back(change.node); break;
    case ConfigChangeType::remove: break;
  }
  // Sorted, so that equal memberships compare equal whatever the order of changes.
  std::sort(config.voters.begin(), config.voters.end());
  std::sort(config.learners.begin(), config.learners.end());
  return config;
}

const MessageHeader& header(const Message& m) {
  return std::visit([](const auto& x) -> const MessageHeader& { return x; }, m);
}
MessageHeader& header(Message& m) {
  return std::visit([](auto& x) -> MessageHeader& { return x; }, m);
}

const char* message_name(const Message& m) {
  static constexpr const char* kNames[] = {
      "RequestVote", "RequestVoteResponse", "AppendEntries", "AppendEntriesResponse",
      "Heartbeat",   "HeartbeatResponse",   "InstallSnapshot", "InstallSnapshotResponse",
      "TimeoutNow"};
  static_assert(std::size(kNames) == std::variant_size_v<Message>);
  return kNames[m.index()];
}

}  // namespace shoal::raft
