// gossip/messages.h
//
// The messages of the memberlist protocol (as HashiCorp memberlist 0.2.2, used by Serf
// 0.9.4, speaks it) and of the Serf layer above it, as plain structs. wire.h turns them
// into bytes and back. Field names and types mirror the Go structs because the Go side
// encodes each struct as a msgpack map keyed by field name: the names ARE the wire format.
//
// Every numeric value here is part of the protocol. The enums may only be appended to.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"

namespace shoal::gossip {

// ---- memberlist ----------------------------------------------------------------------

// The first byte of every memberlist packet and stream message.
enum class MessageType : uint8_t {
  ping = 0,
  indirect_ping = 1,
  ack = 2,
  suspect = 3,
  alive = 4,
  dead = 5,
  push_pull = 6,
  compound = 7,
  user = 8,  // payload belongs to the delegate (Serf)
  compress = 9,
  encrypt = 10,
  nack = 11,
  has_crc = 12,
  err = 13,
};
static_assert(static_cast<uint8_t>(MessageType::err) == 13, "memberlist numbering");

// NodeStateType in memberlist: the state a member is in, as carried in push-pull.
enum class NodeStateType : uint8_t {
  alive = 0,
  suspect = 1,
  dead = 2,
  left = 3,  // memberlist >= 0.2 distinguishes a graceful leave from a death
};

enum class CompressionType : uint8_t { lzw = 0 };

inline constexpr size_t kMetaMaxSize = 512;           // bytes of node meta (Serf tags)
inline constexpr size_t kMaxPushStateBytes = 20 * 1024 * 1024;
inline constexpr size_t kCompoundHeaderOverhead = 2;  // type byte + count byte
inline constexpr size_t kCompoundOverhead = 2;        // the uint16 length of each part
inline constexpr size_t kUserMsgOverhead = 1;
// Go's decoder does uint8 arithmetic on a compound's part count (count*2 overflows at
// 128), so a compound for a Go peer holds at most 127 parts.
inline constexpr size_t kMaxCompoundParts = 127;

// Protocol versions: [pmin, pmax, pcur, dmin, dmax, dcur]. "p" is memberlist's own
// protocol, "d" the delegate's (Serf's) protocol.
using VersionVector = std::vector<uint8_t>;

struct Ping {
  uint32_t seq_no = 0;
  std::string node;  // intended recipient; "" means any
  Bytes source_addr;  // omitted when empty
  uint16_t source_port = 0;
  std::string source_node;
};

struct IndirectPing {
  uint32_t seq_no = 0;
  Bytes target;
  uint16_t port = 0;
  std::string node;
  bool nack = false;
  Bytes source_addr;
  uint16_t source_port = 0;
  std::string source_node;
};

struct Ack {
  uint32_t seq_no = 0;
  Bytes payload;
};

struct Nack {
  uint32_t seq_no = 0;
};

struct ErrResp {
  std::string error;
};

struct Suspect {
  uint32_t incarnation = 0;
  std::string node;
  std::string from;
};

struct Alive {
  uint32_t incarnation = 0;
  std::string node;
  Bytes addr;  // 4 or 16 bytes
  uint16_t port = 0;
  Bytes meta;
  VersionVector vsn;
};

struct Dead {
  uint32_t incarnation = 0;
  std::string node;
  std::string from;  // == node for a graceful leave
};

struct PushPullHeader {
  int64_t nodes = 0;
  int64_t user_state_len = 0;
  bool join = false;
};

struct PushNodeState {
  std::string name;
  Bytes addr;
  uint16_t port = 0;
  Bytes meta;
  uint32_t incarnation = 0;
  NodeStateType state = NodeStateType::alive;
  VersionVector vsn;
};

// A whole push-pull exchange, after framing: header, node states, user (Serf) state.
struct PushPull {
  bool join = false;
  std::vector<PushNodeState> nodes;
  Bytes user_state;
};

struct UserMsgHeader {
  int64_t user_msg_len = 0;
};

// ---- serf ----------------------------------------------------------------------------

using LamportTime = uint64_t;

// The first byte of a Serf message inside a memberlist user message.
enum class SerfMessageType : uint8_t {
  leave = 0,
  join = 1,
  push_pull = 2,
  user_event = 3,
  query = 4,
  query_response = 5,
  conflict_response = 6,
  key_request = 7,
  key_response = 8,
  relay = 9,
};

inline constexpr uint8_t kTagMagicByte = 255;  // meta starting with it holds msgpack tags
inline constexpr uint32_t kQueryFlagAck = 1u << 0;
inline constexpr uint32_t kQueryFlagNoBroadcast = 1u << 1;

enum class FilterType : uint8_t { node = 0, tag = 1 };

struct SerfJoin {
  LamportTime ltime = 0;
  std::string node;
};

struct SerfLeave {
  LamportTime ltime = 0;
  std::string node;
  bool prune = false;
};

struct SerfUserEvent {
  LamportTime ltime = 0;
  std::string name;
  Bytes payload;
  bool cc = false;  // "can coalesce"
};

struct SerfUserEventEntry {
  std::string name;
  Bytes payload;
};

struct SerfUserEvents {
  LamportTime ltime = 0;
  std::vector<SerfUserEventEntry> events;
};

struct SerfPushPull {
  LamportTime ltime = 0;
  std::map<std::string, LamportTime> status_ltimes;
  std::vector<std::string> left_members;
  LamportTime event_ltime = 0;
  std::vector<SerfUserEvents> events;  // Go: []*userEvents; nil entries decode as skipped
  LamportTime query_ltime = 0;
};

struct SerfQuery {
  LamportTime ltime = 0;
  uint32_t id = 0;
  Bytes addr;
  uint16_t port = 0;
  std::string source_node;
  std::vector<Bytes> filters;  // each: FilterType byte + msgpack body
  uint32_t flags = 0;
  uint8_t relay_factor = 0;
  int64_t timeout_ns = 0;  // Go time.Duration
  std::string name;
  Bytes payload;
};

struct SerfQueryResponse {
  LamportTime ltime = 0;
  uint32_t id = 0;
  std::string from;
  uint32_t flags = 0;
  Bytes payload;
};

// Go's net.UDPAddr as the relay header carries it.
struct SerfRelayHeader {
  Bytes dest_ip;
  int64_t dest_port = 0;
  std::string dest_zone;
  std::string dest_name;
};

// Serf's Member struct, as a `_serf_conflict` response carries it (after a
// conflict_response type byte). Status uses Serf's numbering: none 0, alive 1, leaving 2,
// left 3, failed 4.
struct SerfMemberInfo {
  std::string name;
  Bytes addr;
  uint16_t port = 0;
  std::map<std::string, std::string> tags;
  uint8_t status = 0;
  uint8_t protocol_min = 0, protocol_max = 0, protocol_cur = 0;
  uint8_t delegate_min = 0, delegate_max = 0, delegate_cur = 0;
};

struct SerfTagFilter {
  std::string tag;
  std::string expr;
};

}  // namespace shoal::gossip
