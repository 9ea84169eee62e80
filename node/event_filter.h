// node/event_filter.h
//
// Event handler specs as Serf's agent takes them (`-event-handler [FILTER=]SCRIPT`):
// FILTER is a comma-separated list of member-join, member-leave, member-failed,
// member-update, member-reap, user, user:NAME, query, query:NAME or `*`; no filter (or an
// empty one) means every event. Spaces around the commas are allowed.
//
// As in serf, the spec is split at its first '=': a script that itself contains '=' needs a
// filter in front (`*=FOO=1 ./handler.sh`). A part before the '=' that is not a filter is
// an error that says so, never a guess.
//
// Contract: pure; every error is invalid_argument and names the spec and the bad part.
// The parsed values are immutable and safe to share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace shoal::node {

// The kinds of event a handler can run for, with serf's names (SERF_EVENT).
enum class EventKind : uint8_t {
  member_join,
  member_leave,
  member_failed,
  member_update,
  member_reap,
  user,
  query,
};
// "member-join", ..., "user", "query".
std::string_view event_kind_name(EventKind kind);

struct EventFilter {
  bool any = false;  // "*"
  EventKind kind = EventKind::user;
  std::string name;  // user:NAME / query:NAME; empty matches every name

  // `name` is the user event's or query's name (ignored for member events).
  bool matches(EventKind event, std::string_view event_name) const;
  std::string to_string() const;  // as it would be written: "*", "user:deploy", ...
};

struct EventHandlerSpec {
  std::string text;                  // the spec as given, for messages
  std::vector<EventFilter> filters;  // never empty
  std::string script;                // never empty; run with /bin/sh -c

  // Whether any filter matches. A script runs once per event however many match (serf
  // would run `user,user:deploy=X` twice for a deploy event).
  bool matches(EventKind event, std::string_view event_name) const;
};

// "member-join,user:deploy" -> filters; "" or "*" -> one filter matching everything.
Result<std::vector<EventFilter>> parse_event_filters(std::string_view text);
// "[FILTER=]SCRIPT" -> a spec.
Result<EventHandlerSpec> parse_event_handler(std::string_view text);

}  // namespace shoal::node
