#include "raft/leveldb_log_store.h"

#include <fmt/format.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/write_batch.h>

#include <chrono>

#include "raft/codec.h"

namespace shoal::raft {

namespace {

// Key: 'r' | group (8 bytes, big-endian) | kind | [index (8 bytes, big-endian)].
// Big-endian so that LevelDB's bytewise order is numeric order: a group's keys are one
// range, and its entries are sorted by index.
constexpr char kPrefix = 'r';
constexpr char kKindEntry = 'e';
constexpr char kKindHardState = 'h';
constexpr char kKindSnapshotMeta = 'm';
constexpr char kKindSnapshotData = 's';

void put_be64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t get_be64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string group_key(GroupId group, char kind) {
  std::string k(1, kPrefix);
  put_be64(k, group);
  k.push_back(kind);
  return k;
}

// leveldb::Status stops here.
Status convert(const leveldb::Status& s, std::string_view what) {
  if (s.ok()) return Status::ok_status();
  const std::string msg = fmt::format("{}: {}", what, s.ToString());
  if (s.IsNotFound()) return Status::not_found(msg);
  if (s.IsCorruption()) return Status::corruption(msg);
  if (s.IsIOError()) return Status::io_error(msg);
  if (s.IsInvalidArgument()) return Status::invalid_argument(msg);
  return Status::internal(msg);
}

leveldb::Slice slice(const Bytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

// ---- LevelDb ----

Result<std::shared_ptr<LevelDb>> LevelDb::open(const Options& options) {
  leveldb::Options o;
  o.create_if_missing = options.create_if_missing;
  o.paranoid_checks = true;  // LevelDB's own block checksums too
  o.write_buffer_size = options.write_buffer_bytes;
  if (options.env) o.env = options.env;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(o, options.path, &raw);
  if (!s.ok()) return convert(s, "open raft database " + options.path);
  return std::shared_ptr<LevelDb>(
      new LevelDb(std::unique_ptr<leveldb::DB>(raw), options.on_synced_write));
}

LevelDb::LevelDb(std::unique_ptr<leveldb::DB> db, std::function<void(double)> on_synced_write)
    : db_(std::move(db)), on_synced_write_(std::move(on_synced_write)) {}
LevelDb::~LevelDb() = default;

Status LevelDb::synced_write(leveldb::WriteBatch& batch, const char* what) {
  leveldb::WriteOptions wo;
  wo.sync = true;
  const auto start = std::chrono::steady_clock::now();
  Status s = convert(db_->Write(wo, &batch), what);
  if (on_synced_write_) {
    on_synced_write_(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return s;
}

Status LevelDb::sync() {
  leveldb::WriteBatch empty;  // LevelDB syncs its log even for an empty batch
  return synced_write(empty, "sync raft database");
}

// ---- keys ----

std::string LevelDbLogStore::entry_key(GroupId group, Index index) {
  std::string k = group_key(group, kKindEntry);
  put_be64(k, index);
  return k;
}
std::string LevelDbLogStore::hard_state_key(GroupId group) {
  return group_key(group, kKindHardState);
}
std::string LevelDbLogStore::snapshot_meta_key(GroupId group) {
  return group_key(group, kKindSnapshotMeta);
}
std::string LevelDbLogStore::snapshot_data_key(GroupId group) {
  return group_key(group, kKindSnapshotData);
}

// ---- open ----

Result<std::unique_ptr<LevelDbLogStore>> LevelDbLogStore::open(std::shared_ptr<LevelDb> db,
                                                               GroupId group) {
  std::unique_ptr<LevelDbLogStore> store(new LevelDbLogStore(std::move(db), group));
  if (Status s = store->load(); !s.ok()) {
    return s.with_context(fmt::format("raft group {}", group));
  }
  return store;
}

Status LevelDbLogStore::load() {
  leveldb::DB* db = db_->raw();
  std::string value;
  const std::string mkey = snapshot_meta_key(group_);
  if (leveldb::Status s = db->Get({}, mkey, &value); s.ok()) {
    auto payload = codec::unseal(mkey, as_bytes(value));
    if (!payload.ok()) return payload.status().with_context("snapshot metadata");
    auto meta = codec::decode_snapshot_meta(*payload);
    if (!meta.ok()) return meta.status();
    meta_ = std::move(*meta);
  } else if (!s.IsNotFound()) {
    return convert(s, "read snapshot metadata");
  }
  const std::string hkey = hard_state_key(group_);
  if (leveldb::Status s = db->Get({}, hkey, &value); s.ok()) {
    auto payload = codec::unseal(hkey, as_bytes(value));
    if (!payload.ok()) return payload.status().with_context("hard state");
    auto hs = codec::decode_hard_state(*payload);
    if (!hs.ok()) return hs.status();
    hard_state_ = std::move(*hs);
  } else if (!s.IsNotFound()) {
    return convert(s, "read hard state");
  }

  // Walk the whole log: every record must check out and the indexes must be contiguous
  // from the snapshot on, so that a lost or damaged record is found now, not mid-election.
  const std::string prefix = group_key(group_, kKindEntry);
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator({}));
  Index expected = meta_.index + 1;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    if (key.size() != prefix.size() + 8) {
      return Status::corruption(fmt::format("log key of {} bytes", key.size()));
    }
    const Index index = get_be64(key.substr(prefix.size()));
    if (index != expected) {
      return Status::corruption(index < expected
                                    ? fmt::format("entry {} below the snapshot at {}", index,
                                                  meta_.index)
                                    : fmt::format("log has a hole: entry {} missing (next is {})",
                                                  expected, index));
    }
    auto payload = codec::unseal(key, as_bytes({it->value().data(), it->value().size()}));
    if (!payload.ok()) return payload.status().with_context(fmt::format("entry {}", index));
    auto entry = codec::decode_entry(*payload);
    if (!entry.ok()) return entry.status().with_context(fmt::format("entry {}", index));
    if (entry->index != index) {
      return Status::corruption(fmt::format("entry {} stored under index {}", entry->index, index));
    }
    ++expected;
  }
  if (!it->status().ok()) return convert(it->status(), "scan log");
  last_index_ = expected - 1;
  return Status::ok_status();
}

// ---- reads ----

Result<Entry> LevelDbLogStore::read_entry(Index index) const {
  const std::string key = entry_key(group_, index);
  std::string value;
  if (leveldb::Status s = db_->raw()->Get({}, key, &value); !s.ok()) {
    if (s.IsNotFound()) {
      // Inside [first, last] by our own bookkeeping: a missing record is damage.
      return Status::corruption(fmt::format("entry {} is missing from the log", index));
    }
    return convert(s, fmt::format("read entry {}", index));
  }
  auto payload = codec::unseal(key, as_bytes(value));
  if (!payload.ok()) return payload.status().with_context(fmt::format("entry {}", index));
  auto entry = codec::decode_entry(*payload);
  if (!entry.ok()) return entry.status().with_context(fmt::format("entry {}", index));
  if (entry->index != index) {
    return Status::corruption(fmt::format("entry {} stored under index {}", entry->index, index));
  }
  return entry;
}

Result<Term> LevelDbLogStore::term_at(Index index) const {
  if (index == meta_.index) return meta_.term;
  if (index < first_index() || index > last_index_) {
    return Status::not_found(fmt::format("no term for index {}: log holds [{}, {}]", index,
                                         first_index(), last_index_));
  }
  if (last_term_cache_.first == index) return last_term_cache_.second;
  auto e = read_entry(index);
  if (!e.ok()) return e.status();
  last_term_cache_ = {index, e->term};
  return e->term;
}

Result<std::vector<Entry>> LevelDbLogStore::entries(Index lo, Index hi, size_t max_bytes) const {
  if (lo < first_index() || hi > last_index_ + 1 || lo > hi) {
    return Status::not_found(fmt::format("entries [{}, {}) outside log [{}, {}]", lo, hi,
                                         first_index(), last_index_));
  }
  std::vector<Entry> out;
  size_t bytes = 0;
  std::unique_ptr<leveldb::Iterator> it(db_->raw()->NewIterator({}));
  it->Seek(entry_key(group_, lo));
  for (Index i = lo; i < hi; ++i, it->Next()) {
    const std::string key = entry_key(group_, i);
    if (!it->Valid() || it->key() != leveldb::Slice(key)) {
      if (!it->status().ok()) return convert(it->status(), "scan log");
      return Status::corruption(fmt::format("entry {} is missing from the log", i));
    }
    auto payload = codec::unseal(key, as_bytes({it->value().data(), it->value().size()}));
    if (!payload.ok()) return payload.status().with_context(fmt::format("entry {}", i));
    auto e = codec::decode_entry(*payload);
    if (!e.ok()) return e.status().with_context(fmt::format("entry {}", i));
    if (e->index != i) {
      return Status::corruption(fmt::format("entry {} stored under index {}", e->index, i));
    }
    if (!out.empty() && bytes + e->data.size() > max_bytes) break;
    bytes += e->data.size();
    out.push_back(std::move(*e));
  }
  return out;
}

Result<Bytes> LevelDbLogStore::snapshot_data() const {
  const std::string key = snapshot_data_key(group_);
  std::string value;
  if (leveldb::Status s = db_->raw()->Get({}, key, &value); !s.ok()) {
    if (s.IsNotFound()) return Bytes{};  // no snapshot yet
    return convert(s, "read snapshot data");
  }
  auto payload = codec::unseal(key, as_bytes(value));
  if (!payload.ok()) return payload.status().with_context("snapshot data");
  return Bytes(payload->begin(), payload->end());
}

// ---- writes ----

Status LevelDb::write(leveldb::WriteBatch& batch, bool sync) {
  if (sync) return synced_write(batch, "write raft database");
  return convert(db_->Write(leveldb::WriteOptions(), &batch), "write raft database");
}

Status LevelDbLogStore::write(const LogWrite& batch, bool sync) {
  const SnapshotMeta old_meta = meta_;
  const HardState old_hs = hard_state_;
  const Index old_last = last_index_;
  leveldb::WriteBatch wb;
  SHOAL_RETURN_IF_ERROR(stage(batch, wb));
  if (Status s = db_->write(wb, sync); !s.ok()) {
    meta_ = old_meta, hard_state_ = old_hs, last_index_ = old_last;
    return s;
  }
  return Status::ok_status();
}

Status LevelDbLogStore::stage(const LogWrite& batch, leveldb::WriteBatch& wb) {
  SnapshotMeta meta = meta_;
  Index last = last_index_;
  if (batch.snapshot) {
    const SnapshotMeta& m = batch.snapshot->meta;
    if (m.index < meta.index) {
      return Status::invalid_argument(fmt::format(
          "snapshot at {} is older than the stored one at {}", m.index, meta.index));
    }
    const std::string mkey = snapshot_meta_key(group_);
    const std::string dkey = snapshot_data_key(group_);
    wb.Put(mkey, slice(codec::seal(mkey, codec::encode_snapshot_meta(m))));
    static const Bytes kEmpty;
    wb.Put(dkey, slice(codec::seal(dkey, batch.snapshot->data ? *batch.snapshot->data : kEmpty)));
    // The entries the snapshot covers go; if the log does not reach it, all of it goes.
    const Index drop_to = last < m.index ? last : m.index;
    for (Index i = meta.index + 1; i <= drop_to; ++i) wb.Delete(entry_key(group_, i));
    if (last < m.index) last = m.index;
    meta = m;
  }
  if (batch.truncate_from) {
    const Index from = *batch.truncate_from;
    if (from <= meta.index) {
      return Status::invalid_argument(fmt::format(
          "truncation from {} reaches into the snapshot at {}", from, meta.index));
    }
    for (Index i = from; i <= last; ++i) wb.Delete(entry_key(group_, i));
    if (from <= last) last = from - 1;
  }
  for (const Entry& e : batch.entries) {
    if (e.index != last + 1) {
      return Status::invalid_argument(
          fmt::format("append of entry {} leaves a gap: next index is {}", e.index, last + 1));
    }
    const std::string key = entry_key(group_, e.index);
    wb.Put(key, slice(codec::seal(key, codec::encode_entry(e))));
    last = e.index;
  }
  if (batch.hard_state) {
    const std::string key = hard_state_key(group_);
    wb.Put(key, slice(codec::seal(key, codec::encode_hard_state(*batch.hard_state))));
  }
  meta_ = std::move(meta);
  last_index_ = last;
  if (batch.hard_state) hard_state_ = *batch.hard_state;
  last_term_cache_ = {0, 0};
  return Status::ok_status();
}

Status LevelDbLogStore::stage_destroy(leveldb::WriteBatch& wb) const {
  std::string prefix(1, kPrefix);
  put_be64(prefix, group_);
  std::unique_ptr<leveldb::Iterator> it(db_->raw()->NewIterator({}));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    wb.Delete(it->key());
  }
  if (!it->status().ok()) return convert(it->status(), "scan group");
  // Staged records are not in the database yet: delete them by what we know of the log.
  for (Index i = meta_.index + 1; i <= last_index_; ++i) wb.Delete(entry_key(group_, i));
  wb.Delete(hard_state_key(group_));
  wb.Delete(snapshot_meta_key(group_));
  wb.Delete(snapshot_data_key(group_));
  return Status::ok_status();
}

Status LevelDbLogStore::destroy(LevelDb& db, GroupId group) {
  std::string prefix(1, kPrefix);
  put_be64(prefix, group);
  leveldb::WriteBatch wb;
  std::unique_ptr<leveldb::Iterator> it(db.raw()->NewIterator({}));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    wb.Delete(it->key());
  }
  if (!it->status().ok()) return convert(it->status(), "scan group");
  leveldb::WriteOptions wo;
  wo.sync = true;
  return convert(db.raw()->Write(wo, &wb), fmt::format("delete raft group {}", group));
}

}  // namespace shoal::raft
