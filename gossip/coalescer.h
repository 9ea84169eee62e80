// gossip/coalescer.h
//
// EventCoalescer: Serf's event coalescing (coalesce*.go), sans-IO, for whatever hands
// events to slow consumers (event handler scripts, agent RPC streams). Member events
// arriving within a window collapse to the latest per member, grouped by type (a member
// that was already reported with the same type is not reported again, except updates);
// user events that allow coalescing collapse to those with the newest Lamport time per
// name. Everything else passes straight through.
//
// A window opens with the first event it holds and flushes at `period` after that, or
// `quiescent` after the latest event, whichever comes first (serf's agent: 3 s and 1 s
// for both kinds).
//
// Contract: no clock inside (callers pass `now` and call tick() by next_wakeup()); not
// thread-safe; output order within one flush is deterministic (member events by type,
// then name; user events by name).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/time.h"
#include "gossip/events.h"

namespace shoal::gossip {

// Several members that changed the same way, as serf's MemberEvent carries them.
struct MemberEventBatch {
  MemberEventType type = MemberEventType::join;
  std::vector<Member> members;
};

using CoalescedEvent = std::variant<MemberEventBatch, UserEvent, QueryReceived>;

class EventCoalescer {
 public:
  struct Options {
    Duration member_period = std::chrono::seconds(3);  // zero: member events pass through
    Duration member_quiescent = std::chrono::seconds(1);
    Duration user_period = std::chrono::seconds(3);  // zero: user events pass through
    Duration user_quiescent = std::chrono::seconds(1);
  };
  explicit EventCoalescer(Options options) : opt_(options) {}

  // Takes one event; appends to `out` what is ready now (events that are not coalesced).
  void push(CoalescedEvent event, TimePoint now, std::vector<CoalescedEvent>& out);
  // Flushes the windows that are due.
  void tick(TimePoint now, std::vector<CoalescedEvent>& out);
  // Flushes everything held (shutdown).
  void flush(std::vector<CoalescedEvent>& out);
  TimePoint next_wakeup() const;

 private:
  struct Window {
    TimePoint quantum = kTimeNever;    // period after the first held event
    TimePoint quiescent = kTimeNever;  // quiescent after the latest
    bool open() const { return quantum != kTimeNever; }
    TimePoint due() const { return std::min(quantum, quiescent); }
    void hold(TimePoint now, Duration period, Duration quiet) {
      if (!open()) quantum = now + period;
      quiescent = now + quiet;
    }
    void close() { quantum = quiescent = kTimeNever; }
  };
  void flush_members(std::vector<CoalescedEvent>& out);
  void flush_users(std::vector<CoalescedEvent>& out);

  Options opt_;
  Window member_window_;
  Window user_window_;
  std::map<std::string, std::pair<MemberEventType, Member>> latest_members_;
  std::map<std::string, MemberEventType> last_reported_;
  struct LatestUser {
    LamportTime ltime = 0;
    std::vector<UserEvent> events;
  };
  std::map<std::string, LatestUser> latest_users_;
};

}  // namespace shoal::gossip
