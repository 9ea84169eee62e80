#include "raft/wire.h"

#include <fmt/format.h>

#include <cstring>

#include "raft/msgpack.h"

namespace shoal::raft {

namespace {

using msgpack::MsgReader;
using msgpack::MsgWriter;

constexpr std::string_view kMagic = "shoal-raft";
constexpr uint64_t kFrameHello = 0;
constexpr uint64_t kFrameBatch = 1;
// Members of a configuration, as a sanity bound (groups have 3 to 7 in practice).
constexpr uint32_t kMaxMembers = 1024;
constexpr uint32_t kMaxBatch = 1u << 20;

enum Kind : uint64_t {
  kRequestVote = 0,
  kRequestVoteResponse = 1,
  kAppendEntries = 2,
  kAppendEntriesResponse = 3,
  kHeartbeat = 4,
  kHeartbeatResponse = 5,
  kInstallSnapshot = 6,
  kInstallSnapshotResponse = 7,
  kTimeoutNow = 8,
};

void write_ids(MsgWriter& w, const std::vector<NodeId>& ids) {
  w.array(static_cast<uint32_t>(ids.size()));
  for (const auto& id : ids) w.str(id);
}

std::vector<NodeId> read_ids(MsgReader& r) {
  const uint32_t n = r.array(0, kMaxMembers);
  std::vector<NodeId> ids;
  ids.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) ids.push_back(r.str(kMaxNodeIdBytes));
  return ids;
}

void write_message(MsgWriter& w, const Message& msg) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, RequestVote>) {
          w.array(6), w.uint(kRequestVote), w.uint(m.term);
          w.uint(m.last.term), w.uint(m.last.index), w.boolean(m.pre_vote), w.boolean(m.transfer);
        } else if constexpr (std::is_same_v<T, RequestVoteResponse>) {
          w.array(4), w.uint(kRequestVoteResponse), w.uint(m.term);
          w.boolean(m.granted), w.boolean(m.pre_vote);
        } else if constexpr (std::is_same_v<T, AppendEntries>) {
          w.array(6), w.uint(kAppendEntries), w.uint(m.term);
          w.uint(m.prev.term), w.uint(m.prev.index), w.uint(m.commit);
          w.array(static_cast<uint32_t>(m.entries.size()));
          for (const Entry& e : m.entries) {
            w.array(4), w.uint(e.term), w.uint(e.index), w.uint(static_cast<uint8_t>(e.type));
            w.bin(e.data);
          }
        } else if constexpr (std::is_same_v<T, AppendEntriesResponse>) {
          w.array(7), w.uint(kAppendEntriesResponse), w.uint(m.term);
          w.boolean(m.success), w.uint(m.match), w.uint(m.rejected), w.uint(m.hint_index),
              w.uint(m.hint_term);
        } else if constexpr (std::is_same_v<T, Heartbeat>) {
          w.array(5), w.uint(kHeartbeat), w.uint(m.term), w.uint(m.commit), w.uint(m.read_seq);
          w.boolean(m.quiesce);
        } else if constexpr (std::is_same_v<T, HeartbeatResponse>) {
          w.array(4), w.uint(kHeartbeatResponse), w.uint(m.term), w.uint(m.read_seq),
              w.uint(m.last_index);
        } else if constexpr (std::is_same_v<T, InstallSnapshot>) {
          w.array(10), w.uint(kInstallSnapshot), w.uint(m.term);
          w.uint(m.meta.index), w.uint(m.meta.term);
          write_ids(w, m.meta.config.voters), write_ids(w, m.meta.config.learners);
          w.uint(m.offset), w.uint(m.total_bytes), w.bin(m.chunk), w.boolean(m.done);
        } else if constexpr (std::is_same_v<T, InstallSnapshotResponse>) {
          w.array(5), w.uint(kInstallSnapshotResponse), w.uint(m.term);
          w.uint(m.snapshot_index), w.uint(m.next_offset), w.boolean(m.installed);
        } else if constexpr (std::is_same_v<T, TimeoutNow>) {
          w.array(2), w.uint(kTimeoutNow), w.uint(m.term);
        }
      },
      msg);
}

// Reads [group, kind, term, fields...]; the array header has been read (n elements).
std::optional<Envelope> read_envelope(MsgReader& r, const NodeId& from, const NodeId& to) {
  const uint32_t n = r.array(3, 16);
  Envelope env;
  env.group = r.uint();
  const uint64_t kind = r.uint();
  const Term term = r.uint();
  if (!r.ok()) return std::nullopt;
  // `size`: the message's own array length (kind, term, fields), without the group.
  auto expect = [&](uint32_t size) {
    if (n != size + 1) r.fail(fmt::format("message kind {} with {} elements, expected {}", kind,
                                          n - 1, size));
    return r.ok();
  };
  auto fill = [&](auto m) -> std::optional<Envelope> {
    if (!r.ok()) return std::nullopt;
    m.term = term, m.from = from, m.to = to;
    env.message = std::move(m);
    return std::move(env);
  };
  switch (kind) {
    case kRequestVote: {
      if (!expect(6)) return std::nullopt;
      RequestVote m;
      m.last.term = r.uint(), m.last.index = r.uint();
      m.pre_vote = r.boolean(), m.transfer = r.boolean();
      return fill(std::move(m));
    }
    case kRequestVoteResponse: {
      if (!expect(4)) return std::nullopt;
      RequestVoteResponse m;
      m.granted = r.boolean(), m.pre_vote = r.boolean();
      return fill(std::move(m));
    }
    case kAppendEntries: {
      if (!expect(6)) return std::nullopt;
      AppendEntries m;
      m.prev.term = r.uint(), m.prev.index = r.uint(), m.commit = r.uint();
      const uint32_t count = r.array();
      m.entries.reserve(count);
      for (uint32_t i = 0; i < count && r.ok(); ++i) {
        r.array(4, 4);
        Entry e;
        e.term = r.uint(), e.index = r.uint();
        const uint64_t type = r.uint();
        if (type > static_cast<uint8_t>(EntryType::noop)) {
          r.fail(fmt::format("entry type {}", type));
        }
        e.type = static_cast<EntryType>(type);
        e.data = r.bin(kMaxFrameBytes);
        m.entries.push_back(std::move(e));
      }
      return fill(std::move(m));
    }
    case kAppendEntriesResponse: {
      if (!expect(7)) return std::nullopt;
      AppendEntriesResponse m;
      m.success = r.boolean(), m.match = r.uint(), m.rejected = r.uint();
      m.hint_index = r.uint(), m.hint_term = r.uint();
      return fill(std::move(m));
    }
    case kHeartbeat: {
      if (!expect(5)) return std::nullopt;
      Heartbeat m;
      m.commit = r.uint(), m.read_seq = r.uint(), m.quiesce = r.boolean();
      return fill(std::move(m));
    }
    case kHeartbeatResponse: {
      if (!expect(4)) return std::nullopt;
      HeartbeatResponse m;
      m.read_seq = r.uint(), m.last_index = r.uint();
      return fill(std::move(m));
    }
    case kInstallSnapshot: {
      if (!expect(10)) return std::nullopt;
      InstallSnapshot m;
      m.meta.index = r.uint(), m.meta.term = r.uint();
      m.meta.config.voters = read_ids(r);
      m.meta.config.learners = read_ids(r);
      m.offset = r.uint(), m.total_bytes = r.uint();
      m.chunk = r.bin(kMaxFrameBytes);
      m.done = r.boolean();
      return fill(std::move(m));
    }
    case kInstallSnapshotResponse: {
      if (!expect(5)) return std::nullopt;
      InstallSnapshotResponse m;
      m.snapshot_index = r.uint(), m.next_offset = r.uint(), m.installed = r.boolean();
      return fill(std::move(m));
    }
    case kTimeoutNow: {
      if (!expect(2)) return std::nullopt;
      return fill(TimeoutNow{});
    }
    default: r.fail(fmt::format("unknown message kind {}", kind)); return std::nullopt;
  }
}

Status finish(const MsgReader& r, std::string_view what) {
  if (!r.ok()) return Status::invalid_argument(fmt::format("bad {} frame: {}", what, r.error()));
  if (!r.at_end()) {
    return Status::invalid_argument(
        fmt::format("bad {} frame: {} trailing bytes", what, r.remaining()));
  }
  return Status::ok_status();
}

}  // namespace

Bytes encode_hello(const Hello& hello) {
  MsgWriter w;
  w.array(4), w.uint(kFrameHello), w.str(kMagic), w.uint(hello.version), w.str(hello.node);
  return w.take();
}

Result<Hello> decode_hello(ByteView payload) {
  MsgReader r(payload);
  r.array(4, 4);
  if (r.uint() != kFrameHello && r.ok()) r.fail("not a hello frame");
  if (r.str(kMagic.size() + 1) != kMagic && r.ok()) r.fail("wrong protocol magic");
  Hello h;
  const uint64_t version = r.uint();
  h.node = r.str(kMaxNodeIdBytes);
  SHOAL_RETURN_IF_ERROR(finish(r, "hello"));
  if (version != kWireVersion) {
    return Status::invalid_argument(
        fmt::format("peer speaks raft wire version {}, we speak {}", version, kWireVersion));
  }
  if (h.node.empty()) return Status::invalid_argument("bad hello frame: empty node id");
  h.version = static_cast<uint32_t>(version);
  return h;
}

Bytes encode_batch(const std::vector<Envelope>& batch) {
  MsgWriter w;
  w.array(2), w.uint(kFrameBatch), w.array(static_cast<uint32_t>(batch.size()));
  for (const Envelope& env : batch) {
    // [group, kind, term, fields...]: write the message, then splice the group in front.
    MsgWriter m;
    write_message(m, env.message);
    Bytes& b = m.bytes();
    // b starts with a fixarray header (every message has < 15 elements): bump it by one.
    Bytes& out = w.bytes();
    out.push_back(static_cast<uint8_t>(b[0] + 1));
    w.uint(env.group);
    out.insert(out.end(), b.begin() + 1, b.end());
  }
  return w.take();
}

Result<std::vector<Envelope>> decode_batch(ByteView payload, const NodeId& from,
                                           const NodeId& to) {
  MsgReader r(payload);
  r.array(2, 2);
  if (r.uint() != kFrameBatch && r.ok()) r.fail("not a batch frame");
  const uint32_t n = r.array(0, kMaxBatch);
  std::vector<Envelope> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    auto env = read_envelope(r, from, to);
    if (env) out.push_back(std::move(*env));
  }
  SHOAL_RETURN_IF_ERROR(finish(r, "batch"));
  return out;
}

void append_frame(Bytes& out, ByteView payload) {
  const auto n = static_cast<uint32_t>(payload.size());
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  out.insert(out.end(), payload.begin(), payload.end());
}

void FrameDecoder::feed(ByteView data) {
  if (!error_.ok()) return;
  // Drop what was consumed before growing the buffer again.
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear(), pos_ = 0;
  } else if (pos_ > (1u << 16) && pos_ * 2 > buf_.size()) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_)), pos_ = 0;
  }
  buf_.insert(buf_.end(), data.begin(), data.end());
}

Result<std::optional<Bytes>> FrameDecoder::next() {
  if (!error_.ok()) return error_;
  if (buffered() < 4) return std::optional<Bytes>();
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | buf_[pos_ + static_cast<size_t>(i)];
  if (n > max_frame_) {
    error_ = Status::invalid_argument(
        fmt::format("frame of {} bytes exceeds the limit of {}", n, max_frame_));
    return error_;
  }
  if (buffered() < 4 + size_t{n}) return std::optional<Bytes>();
  const auto begin = buf_.begin() + static_cast<std::ptrdiff_t>(pos_ + 4);
  Bytes frame(begin, begin + n);
  pos_ += 4 + size_t{n};
  return std::optional<Bytes>(std::move(frame));
}

}  // namespace shoal::raft
