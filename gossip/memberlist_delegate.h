// gossip/memberlist_delegate.h
//
// The hooks memberlist calls into the layer above it (Serf). Called synchronously from
// inside Memberlist's entry points, on the same strand; implementations must not call back
// into Memberlist's entry points (they may queue broadcasts and read state).
#pragma once

#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "base/time.h"
#include "gossip/node_state.h"

namespace shoal::gossip {

class MemberlistDelegate {
 public:
  virtual ~MemberlistDelegate() = default;

  // Our node's meta (Serf tags), at most `limit` bytes.
  virtual Bytes node_meta(size_t limit) = 0;
  // A user message (the byte after memberlist's userMsg type byte onward).
  virtual void notify_msg(ByteView msg, TimePoint now) = 0;
  // At most `max_count` delegate broadcasts to piggyback; each plus `overhead` must fit
  // in `limit` bytes in all.
  virtual std::vector<Bytes> get_broadcasts(size_t overhead, size_t limit, size_t max_count) = 0;
  // The same, for what must not wait behind memberlist's own broadcasts (Serf's user events
  // and queries): offered first, in at most half of each packet. Default: nothing.
  virtual std::vector<Bytes> get_urgent_broadcasts(size_t /*overhead*/, size_t /*limit*/,
                                                   size_t /*max_count*/) {
    return {};
  }
  // The delegate's state for a push-pull, and the remote's state to merge.
  virtual Bytes local_state(bool join) = 0;
  virtual void merge_remote_state(ByteView state, bool join, TimePoint now) = 0;

  virtual void notify_join(const NodeState& node, TimePoint now) = 0;
  virtual void notify_leave(const NodeState& node, TimePoint now) = 0;
  virtual void notify_update(const NodeState& node, TimePoint now) = 0;
  // Two nodes claim one name with different addresses.
  virtual void notify_conflict(const NodeState& existing, const NodeState& other) = 0;

  // Ping delegate: the payload of our acks, and what a completed probe told us.
  virtual Bytes ack_payload() = 0;
  virtual void notify_ping_complete(const NodeState& node, Duration rtt, ByteView payload) = 0;
};

}  // namespace shoal::gossip
