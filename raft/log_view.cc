#include "raft/log_view.h"

#include <fmt/format.h>

#include <cassert>

namespace shoal::raft {

Status LogView::load() {
  auto meta = store_->snapshot_meta();
  if (!meta.ok()) return meta.status();
  snapshot_ = {meta->term, meta->index};
  unstable_offset_ = store_->last_index() + 1;
  if (unstable_offset_ <= snapshot_.index) {
    return Status::corruption(fmt::format("log ends at {} below its snapshot at {}",
                                          unstable_offset_ - 1, snapshot_.index));
  }
  return Status::ok_status();
}

std::optional<Term> LogView::term_at(Index index) const {
  if (index == snapshot_.index) return snapshot_.term;
  if (index < snapshot_.index || index > last_index()) return std::nullopt;
  if (index >= unstable_offset_) return unstable_[index - unstable_offset_].term;
  auto term = store_->term_at(index);
  if (!term.ok()) {
    if (error_.ok()) error_ = term.status().with_context(fmt::format("term of entry {}", index));
    return std::nullopt;
  }
  return *term;
}

std::vector<Entry> LogView::slice(Index lo, Index hi, size_t max_count, size_t max_bytes) const {
  assert(lo >= first_index());
  hi = std::min(hi, last_index() + 1);
  std::vector<Entry> out;
  if (lo >= hi) return out;
  size_t bytes = 0;
  if (lo < unstable_offset_) {
    const Index stable_hi = std::min(hi, unstable_offset_);
    const Index count = std::min<Index>(stable_hi - lo, max_count);
    auto stored = store_->entries(lo, lo + count, max_bytes);
    if (!stored.ok()) {
      if (error_.ok()) {
        error_ = stored.status().with_context(fmt::format("entries [{}, {})", lo, stable_hi));
      }
      return {};
    }
    out = std::move(*stored);
    for (const auto& e : out) bytes += e.data.size();
    if (out.size() < stable_hi - lo) return out;  // a limit was hit
    lo = stable_hi;
  }
  for (Index i = lo; i < hi && out.size() < max_count; ++i) {
    const Entry& e = unstable_[i - unstable_offset_];
    if (!out.empty() && bytes + e.data.size() > max_bytes) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

void LogView::append(std::vector<Entry> entries) {
  for (auto& e : entries) {
    assert(e.index == last_index() + 1);
    write_.entries.push_back(e);
    unstable_.push_back(std::move(e));
  }
}

void LogView::truncate(Index from) {
  assert(from > snapshot_.index);
  if (from > last_index()) return;
  // Entries only this step appended need no store truncation: just don't write them.
  auto& pending = write_.entries;
  if (!pending.empty() && from > pending.front().index) {
    pending.resize(from - pending.front().index);
  } else {
    pending.clear();
    write_.truncate_from = std::min(write_.truncate_from.value_or(from), from);
  }
  if (from >= unstable_offset_) {
    unstable_.resize(from - unstable_offset_);
  } else {
    unstable_.clear();
    unstable_offset_ = from;  // the store's entries >= from are stale until the write lands
  }
}

void LogView::compact(const SnapshotWrite& snapshot) {
  assert(snapshot.meta.index < unstable_offset_ && snapshot.meta.index > snapshot_.index);
  snapshot_ = {snapshot.meta.term, snapshot.meta.index};
  write_.snapshot = snapshot;
}

void LogView::install(const SnapshotWrite& snapshot) {
  snapshot_ = {snapshot.meta.term, snapshot.meta.index};
  unstable_.clear();
  unstable_offset_ = snapshot_.index + 1;
  write_.entries.clear();
  write_.snapshot = snapshot;
  write_.truncate_from = snapshot_.index + 1;  // after the snapshot: nothing of the old log
}

void LogView::persisted(LogPosition last) {
  if (last.index < unstable_offset_ || last.index > last_index()) return;
  if (unstable_[last.index - unstable_offset_].term != last.term) return;  // since overwritten
  unstable_.erase(unstable_.begin(),
                  unstable_.begin() + static_cast<ptrdiff_t>(last.index - unstable_offset_ + 1));
  unstable_offset_ = last.index + 1;
}

}  // namespace shoal::raft
