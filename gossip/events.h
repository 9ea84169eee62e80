// gossip/events.h
//
// What the gossip core asks its shell to do (Actions) and tells it (member events).
// The shell drains them with Serf::take_actions() after every call into the core and
// carries them out in order.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/time.h"
#include "gossip/address.h"
#include "gossip/messages.h"

namespace shoal::gossip {

// Serf's view of a member.
enum class MemberStatus : uint8_t { none, alive, leaving, left, failed };
std::string_view to_string(MemberStatus s);

struct Member {
  std::string name;
  Address addr;
  std::map<std::string, std::string> tags;
  MemberStatus status = MemberStatus::none;
  VersionVector vsn;  // [pmin, pmax, pcur, dmin, dmax, dcur]
};

enum class MemberEventType : uint8_t { join, leave, failed, update, reap };
std::string_view to_string(MemberEventType t);

// ---- actions ----

// Send one UDP datagram. Best effort: the shell may drop it on error (and count it).
struct SendPacket {
  Address to;
  Bytes data;
};

// Open a TCP stream to `to`, write `data`, and if `expect_reply`, read one framed message
// (wire::stream_message_length) and hand it to Serf::handle_stream_reply(id, ...), or an
// error Status if connect/write/read failed or took longer than `timeout`. Without
// expect_reply the shell closes after writing and reports nothing back.
struct StreamRequest {
  uint64_t id = 0;
  Address to;
  Bytes data;
  bool expect_reply = false;
  Duration timeout{};
};

// A membership change as Serf reports it (for logs, event streams and handlers).
struct MemberEvent {
  MemberEventType type;
  Member member;
};

// The outcome of Serf::join(id, ...): how many of the given addresses we synced with.
struct JoinDone {
  uint64_t id = 0;
  int joined = 0;
  std::vector<std::string> errors;  // one per address that failed, naming it
};

// A graceful leave has finished: the shell may stop the transport now.
struct LeaveDone {};

using Action = std::variant<SendPacket, StreamRequest, MemberEvent, JoinDone, LeaveDone>;

}  // namespace shoal::gossip
