#include "simulations/raft/durable_log_store.h"

#include <fmt/format.h>

#include <algorithm>

#include "raft/codec.h"

namespace shoal::sim {

namespace {
const std::string kHard = "raft/h";
const std::string kMeta = "raft/m";
const std::string kData = "raft/s";
std::string entry_key(raft::Index i) { return fmt::format("raft/e/{:020}", i); }
}  // namespace

Result<std::unique_ptr<DurableLogStore>> DurableLogStore::open(DurableStore& store) {
  std::unique_ptr<DurableLogStore> s(new DurableLogStore(store));
  if (auto v = store.get(kHard)) {
    auto hs = raft::codec::decode_hard_state(*v);
    if (!hs.ok()) return hs.status().with_context("hard state");
    s->hard_ = *hs;
  }
  if (auto v = store.get(kMeta)) {
    auto meta = raft::codec::decode_snapshot_meta(*v);
    if (!meta.ok()) return meta.status().with_context("snapshot meta");
    s->meta_ = *meta;
  }
  s->last_ = s->meta_.index;
  while (store.get(entry_key(s->last_ + 1))) {
    auto e = s->entry(s->last_ + 1);
    if (!e.ok()) return e.status();
    ++s->last_;
  }
  return s;
}

Result<raft::Entry> DurableLogStore::entry(raft::Index index) const {
  auto v = store_->get(entry_key(index));
  if (!v) return Status::corruption(fmt::format("entry {} is missing", index));
  auto e = raft::codec::decode_entry(*v);
  if (!e.ok()) return e.status().with_context(fmt::format("entry {}", index));
  if (e->index != index) {
    return Status::corruption(fmt::format("entry {} stored under index {}", e->index, index));
  }
  return e;
}

Result<raft::Term> DurableLogStore::term_at(raft::Index index) const {
  if (index == meta_.index) return meta_.term;
  if (index < first_index() || index > last_) {
    return Status::not_found(fmt::format("no term for index {}: log holds [{}, {}]", index,
                                         first_index(), last_));
  }
  auto e = entry(index);
  if (!e.ok()) return e.status();
  return e->term;
}

Result<std::vector<raft::Entry>> DurableLogStore::entries(raft::Index lo, raft::Index hi,
                                                          size_t max_bytes) const {
  if (lo < first_index() || hi > last_ + 1 || lo > hi) {
    return Status::not_found(
        fmt::format("entries [{}, {}) outside log [{}, {}]", lo, hi, first_index(), last_));
  }
  std::vector<raft::Entry> out;
  size_t bytes = 0;
  for (raft::Index i = lo; i < hi; ++i) {
    auto e = entry(i);
    if (!e.ok()) return e.status();
    if (!out.empty() && bytes + e->data.size() > max_bytes) break;
    bytes += e->data.size();
    out.push_back(std::move(*e));
  }
  return out;
}

Result<Bytes> DurableLogStore::snapshot_data() const {
  if (auto v = store_->get(kData)) return *v;
  return Bytes{};
}

Status DurableLogStore::write(const raft::LogWrite& batch, bool sync) {
  // Check everything before changing anything, so a refused batch leaves the store as it was.
  raft::Index last = last_, snap = meta_.index;
  bool keep_tail = true;
  if (batch.snapshot) {
    const raft::SnapshotMeta& m = batch.snapshot->meta;
    if (m.index < meta_.index) {
      return Status::invalid_argument(fmt::format(
          "snapshot at {} is older than the stored one at {}", m.index, meta_.index));
    }
    keep_tail = last_ > m.index;
    snap = m.index;
    if (!keep_tail) last = m.index;
  }
  if (batch.truncate_from) {
    if (*batch.truncate_from <= snap) {
      return Status::invalid_argument(fmt::format(
          "truncation from {} reaches into the snapshot at {}", *batch.truncate_from, snap));
    }
    last = std::min(last, *batch.truncate_from - 1);
  }
  for (size_t k = 0; k < batch.entries.size(); ++k) {
    if (batch.entries[k].index != last + 1 + k) {
      return Status::invalid_argument(fmt::format("append of entry {} leaves a gap: next index is {}",
                                                  batch.entries[k].index, last + 1 + k));
    }
  }

  if (batch.snapshot) {
    const raft::SnapshotMeta& m = batch.snapshot->meta;
    for (raft::Index i = meta_.index + 1; i <= (keep_tail ? m.index : last_); ++i) {
      store_->erase(entry_key(i));
    }
    store_->put(kMeta, raft::codec::encode_snapshot_meta(m));
    store_->put(kData, batch.snapshot->data ? *batch.snapshot->data : Bytes{});
    meta_ = m;
    if (!keep_tail) last_ = m.index;
  }
  for (raft::Index i = last + 1; i <= last_; ++i) store_->erase(entry_key(i));
  last_ = last;
  for (const raft::Entry& e : batch.entries) {
    store_->put(entry_key(e.index), raft::codec::encode_entry(e));
    last_ = e.index;
  }
  if (batch.hard_state) {
    hard_ = *batch.hard_state;
    store_->put(kHard, raft::codec::encode_hard_state(hard_));
  }
  if (sync) store_->sync();
  return Status::ok_status();
}

Status DurableLogStore::sync() {
  store_->sync();
  return Status::ok_status();
}

}  // namespace shoal::sim
