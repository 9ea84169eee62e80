// simulations/raft/kv_machine.h
//
// KvMachine: the state machine the simulated Raft groups replicate, a string map written by
// client commands. Each command carries (client, seq); a command whose seq is not above the
// last one applied for its client is a duplicate (a retransmitted or duplicated request that
// got proposed twice) and is skipped, which is what makes a client's write take effect once
// (Raft dissertation §6.3).
//
// Contract: apply() takes committed entries in index order; non-normal entries only advance
// the index. snapshot()/restore() round-trip the whole state (map, sessions, index); restore
// of empty data (the bootstrap snapshot) gives the empty machine at `index`. decode errors are
// Status::corruption. Value type; not thread-safe.
#pragma once

#include <map>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "raft/types.h"

namespace shoal::sim {

struct KvCommand {
  uint64_t client = 0;
  uint64_t seq = 0;
  std::string key;
  std::string value;
};

Bytes encode_kv_command(const KvCommand& c);
Result<KvCommand> decode_kv_command(ByteView data);

class KvMachine {
 public:
  Status apply(const raft::Entry& e);
  Bytes snapshot() const;
  Status restore(ByteView data, raft::Index index);

  // "" when absent.
  std::string get(const std::string& key) const;
  raft::Index index() const { return index_; }
  // Whether the command (client, seq) has been applied (or superseded).
  bool applied(uint64_t client, uint64_t seq) const;

 private:
  std::map<std::string, std::string> data_;
  std::map<uint64_t, uint64_t> last_seq_;
  raft::Index index_ = 0;
};

}  // namespace shoal::sim
