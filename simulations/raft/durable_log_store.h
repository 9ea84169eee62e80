// simulations/raft/durable_log_store.h
//
// DurableLogStore: a raft::LogStore kept in a simulated node's DurableStore, so that a crash
// loses exactly what the node had not synced and a restart finds the rest. One key per
// record ("raft/h" hard state, "raft/m" snapshot meta, "raft/s" snapshot data, "raft/e/<index>"
// entries), encoded with raft/codec.h.
//
// Contract: as raft::LogStore (raft/log_store.h). open() rebuilds the log's range from what is
// in the store and reports corruption for a record that does not decode or a hole. Only reads
// and writes through this object touch the DurableStore; the simulator crashes it. One per
// node incarnation; not thread-safe.
#pragma once

#include <memory>

#include "raft/log_store.h"
#include "simulations/durable_store.h"

namespace shoal::sim {

class DurableLogStore final : public raft::LogStore {
 public:
  static Result<std::unique_ptr<DurableLogStore>> open(DurableStore& store);

  raft::Index first_index() const override { return meta_.index + 1; }
  raft::Index last_index() const override { return last_; }
  Result<raft::Term> term_at(raft::Index index) const override;
  Result<std::vector<raft::Entry>> entries(raft::Index lo, raft::Index hi,
                                           size_t max_bytes) const override;
  Result<raft::HardState> hard_state() const override { return hard_; }
  Result<raft::SnapshotMeta> snapshot_meta() const override { return meta_; }
  Result<Bytes> snapshot_data() const override;

  Status write(const raft::LogWrite& batch, bool sync) override;
  Status sync() override;

 private:
  explicit DurableLogStore(DurableStore& store) : store_(&store) {}
  Result<raft::Entry> entry(raft::Index index) const;

  DurableStore* store_;
  raft::SnapshotMeta meta_;
  raft::HardState hard_;
  raft::Index last_ = 0;
};

}  // namespace shoal::sim
