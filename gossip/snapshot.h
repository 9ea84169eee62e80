// gossip/snapshot.h
//
// The Serf snapshot, sans IO: what an agent keeps across restarts so that it rejoins its
// old peers without --join, never re-delivers events it has seen (Lamport clocks) and
// remembers a graceful leave. serf/snapshot.go is the behaviour; the bytes are our own
// (docs/snapshot.md):
//
//   file   = magic "SHOALSN1" then records
//   record = u16 LE length of (type + payload) | u16 LE its complement (~length)
//            | u32 LE crc32 (IEEE) of (type + payload) | u8 type | payload
//   alive      = u16 LE name length, name, u16 LE address length, "IP:PORT"
//   not_alive  = u16 LE name length, name
//   clock / event_clock / query_clock = u64 LE Lamport time
//   leave      = empty
//
// Contract:
//  - replay_snapshot() never trusts the file: a bad magic, checksum, type or payload in a
//    complete record is corruption naming the byte offset; nothing of the file is used.
//    An incomplete last record (the process died inside a write: a short header, or a
//    consistent header with a short body) is not corruption: it is reported as a torn
//    tail and the valid prefix is used. The length's complement is what tells a torn
//    record from a damaged length.
//  - Clocks only move forward. A leave record forgets the peers unless rejoin_after_leave;
//    the clocks are kept either way (see docs/snapshot.md for why this differs from serf).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "gossip/messages.h"

namespace shoal::gossip {

inline constexpr std::string_view kSnapshotMagic = "SHOALSN1";

enum class SnapshotRecordType : uint8_t {
  alive = 1,
  not_alive = 2,
  clock = 3,
  event_clock = 4,
  query_clock = 5,
  leave = 6,
};

struct SnapshotRecord {
  SnapshotRecordType type = SnapshotRecordType::leave;
  std::string name;     // alive, not_alive
  std::string addr;     // alive: "IP:PORT"
  LamportTime value = 0;  // the clocks
};

// The Lamport clocks a snapshot keeps. The agent's snapshot file implements this; the Serf
// layer's clocks reach it (member clock polled, user events and queries as delivered).
class SnapshotClocks {
 public:
  virtual ~SnapshotClocks() = default;
  virtual void record_member_clock(LamportTime t) = 0;
  virtual void record_event_clock(LamportTime t) = 0;
  virtual void record_query_clock(LamportTime t) = 0;
};

struct SnapshotState {
  std::map<std::string, std::string> alive;  // name -> "IP:PORT"
  LamportTime clock = 0;
  LamportTime event_clock = 0;
  LamportTime query_clock = 0;
  bool left = false;  // the last thing recorded was our graceful leave

  void apply(const SnapshotRecord& r, bool rejoin_after_leave);
  // The magic and the records that rebuild this state: what compaction writes.
  Bytes compacted() const;
};

Bytes encode_snapshot_record(const SnapshotRecord& r);

struct SnapshotReplay {
  SnapshotState state;
  size_t valid_bytes = 0;  // the file's length up to the last complete record
  bool torn_tail = false;  // bytes after valid_bytes were an incomplete record
};

// An empty file is an empty snapshot (a fresh data dir).
Result<SnapshotReplay> replay_snapshot(ByteView file, bool rejoin_after_leave);

}  // namespace shoal::gossip
