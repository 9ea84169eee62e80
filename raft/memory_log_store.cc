#include "raft/memory_log_store.h"

#include <fmt/format.h>

namespace shoal::raft {

Result<Term> MemoryLogStore::term_at(Index index) const {
  if (index == state_.meta.index) return state_.meta.term;
  if (index < first_index() || index > last_index()) {
    return Status::not_found(fmt::format("no term for index {}: log holds [{}, {}]", index,
                                         first_index(), last_index()));
  }
  return state_.log[index - first_index()].term;
}

Result<std::vector<Entry>> MemoryLogStore::entries(Index lo, Index hi, size_t max_bytes) const {
  if (lo < first_index() || hi > last_index() + 1 || lo > hi) {
    return Status::not_found(fmt::format("entries [{}, {}) outside log [{}, {}]", lo, hi,
                                         first_index(), last_index()));
  }
  std::vector<Entry> out;
  size_t bytes = 0;
  for (Index i = lo; i < hi; ++i) {
    const Entry& e = state_.log[i - first_index()];
    if (!out.empty() && bytes + e.data.size() > max_bytes) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

Result<Bytes> MemoryLogStore::snapshot_data() const {
  if (!state_.data) return Bytes{};
  return *state_.data;
}

Status MemoryLogStore::write(const LogWrite& batch, bool sync) {
  State next = state_;
  if (batch.snapshot) {
    const SnapshotMeta& meta = batch.snapshot->meta;
    if (meta.index < next.meta.index) {
      return Status::invalid_argument(fmt::format("snapshot at {} is older than the stored one at {}",
                                                  meta.index, next.meta.index));
    }
    const Index last = next.meta.index + next.log.size();
    while (!next.log.empty() && next.log.front().index <= meta.index) next.log.pop_front();
    if (last < meta.index || (!next.log.empty() && next.log.front().index != meta.index + 1)) {
      next.log.clear();
    }
    next.meta = meta;
    next.data = batch.snapshot->data;
  }
  if (batch.truncate_from) {
    const Index from = *batch.truncate_from;
    if (from <= next.meta.index) {
      return Status::invalid_argument(
          fmt::format("truncation from {} reaches into the snapshot at {}", from, next.meta.index));
    }
    while (!next.log.empty() && next.log.back().index >= from) next.log.pop_back();
  }
  for (const Entry& e : batch.entries) {
    const Index expected = next.meta.index + next.log.size() + 1;
    if (e.index != expected) {
      return Status::invalid_argument(
          fmt::format("append of entry {} leaves a gap: next index is {}", e.index, expected));
    }
    next.log.push_back(e);
  }
  if (batch.hard_state) next.hard_state = *batch.hard_state;
  state_ = std::move(next);
  ++writes_;
  if (sync) synced_ = state_;
  return Status::ok_status();
}

Status MemoryLogStore::sync() {
  synced_ = state_;
  return Status::ok_status();
}

void MemoryLogStore::crash() {
  if (lose_unsynced_) state_ = synced_;
}

}  // namespace shoal::raft
