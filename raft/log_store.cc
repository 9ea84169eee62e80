#include "raft/log_store.h"

namespace shoal::raft {

Status bootstrap(LogStore& store, std::vector<NodeId> voters) {
  if (voters.empty()) return Status::invalid_argument("bootstrap needs at least one voter");
  auto meta = store.snapshot_meta();
  if (!meta.ok()) return meta.status();
  if (meta->index != 0 || store.last_index() != 0) {
    return Status::failed_precondition("store is not empty: the group exists already");
  }
  SnapshotMeta first;
  first.index = 1;
  first.term = 0;
  for (auto& v : voters) {
    first.config = apply_config_change(first.config, {ConfigChangeType::add_voter, v});
  }
  return store.save_snapshot(std::move(first), Bytes{}, /*sync=*/true);
}

}  // namespace shoal::raft
