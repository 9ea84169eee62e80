// raft/kv_state_machine.h
//
// KvStateMachine: a string -> bytes map, the TEST AND BENCH state machine of the Raft host
// (PUT/GET /v1/raft/groups/ID/kv/KEY, tests/integration, bench/raft). Real state machines
// (the catalog, apps: issue 7) bring their own.
//
// Commands (the entry data) are MessagePack: [0, key, value] puts, [1, key] deletes.
// A command that does not decode is applied as a no-op and returns "error: ..." as its
// result, so a bad proposal cannot make replicas diverge. Snapshot: [[key, value]...].
#pragma once

#include <map>
#include <optional>
#include <string>

#include "raft/state_machine.h"

namespace shoal::raft {

inline constexpr size_t kKvMaxKeyBytes = 1024;
inline constexpr size_t kKvMaxValueBytes = 1 << 20;

class KvStateMachine final : public StateMachine {
 public:
  static Bytes put_command(std::string_view key, ByteView value);
  static Bytes delete_command(std::string_view key);

  Bytes apply(const Entry& entry) override;
  Bytes snapshot() const override;
  Status restore(ByteView data) override;

  std::optional<Bytes> get(const std::string& key) const;
  size_t size() const { return map_.size(); }

 private:
  std::map<std::string, Bytes> map_;
};

}  // namespace shoal::raft
