#include "raft/types.h"

#include <fmt/format.h>

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

std::string describe(const Message& m) {
  const MessageHeader& h = header(m);
  std::string out = fmt::format("{}->{} {} t{}", h.from, h.to, message_name(m), h.term);
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, RequestVote>) {
          out += fmt::format(" last={}/{}{}{}", x.last.term, x.last.index,
                             x.pre_vote ? " pre" : "", x.transfer ? " transfer" : "");
        } else if constexpr (std::is_same_v<T, RequestVoteResponse>) {
          out += fmt::format(" {}{}", x.granted ? "granted" : "rejected", x.pre_vote ? " pre" : "");
        } else if constexpr (std::is_same_v<T, AppendEntries>) {
          out += fmt::format(" prev={}/{} entries=[", x.prev.term, x.prev.index);
          for (size_t i = 0; i < x.entries.size(); ++i) {
            out += fmt::format("{}{}/{}", i ? " " : "", x.entries[i].term, x.entries[i].index);
          }
          out += fmt::format("] commit={}", x.commit);
        } else if constexpr (std::is_same_v<T, AppendEntriesResponse>) {
          if (x.success) {
            out += fmt::format(" ok match={}", x.match);
          } else {
            out += fmt::format(" reject={} hint={}/{}", x.rejected, x.hint_term, x.hint_index);
          }
        } else if constexpr (std::is_same_v<T, Heartbeat>) {
          out += fmt::format(" commit={} read={}{}", x.commit, x.read_seq, x.quiesce ? " quiesce" : "");
        } else if constexpr (std::is_same_v<T, HeartbeatResponse>) {
          out += fmt::format(" read={} last={}", x.read_seq, x.last_index);
        } else if constexpr (std::is_same_v<T, InstallSnapshot>) {
          out += fmt::format(" snap={}/{} offset={} len={}/{}{}", x.meta.term, x.meta.index,
                             x.offset, x.chunk.size(), x.total_bytes, x.done ? " done" : "");
        } else if constexpr (std::is_same_v<T, InstallSnapshotResponse>) {
          out += fmt::format(" snap={} next={}{}", x.snapshot_index, x.next_offset,
                             x.installed ? " installed" : "");
        }
      },
      m);
  return out;
}

}  // namespace shoal::raft
