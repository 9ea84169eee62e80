// node/event_script.h
//
// What one event handler run is given, exactly as Serf 0.9's agent gives it (invoke.go),
// so a handler written for serf runs unchanged:
//
//  - environment: SERF_EVENT (member-join, ..., user, query), SERF_SELF_NAME,
//    SERF_SELF_ROLE (this node's `role` tag), SERF_TAG_<KEY> for each of this node's tags
//    (KEY upper-cased, every character outside [A-Z0-9_] replaced by '_'); for user events
//    SERF_USER_EVENT and SERF_USER_LTIME; for queries SERF_QUERY_NAME and SERF_QUERY_LTIME.
//    Each also as SHOAL_<same suffix>. They override inherited variables of the same name.
//  - stdin: for member events one line per member, "NAME\tIP\tROLE\tTAGS\n" (TAGS as
//    k=v,k=v sorted by key; tabs and newlines in NAME, ROLE and TAGS written as \t and \n);
//    for user events and queries the payload, with a newline added if it has none.
//
// Contract: pure functions of their arguments.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gossip/coalescer.h"
#include "gossip/events.h"
#include "node/event_filter.h"

namespace shoal::node {

// The events handlers see: member changes (batched as serf's agent coalesces them), user
// events and queries.
using HandlerEvent = gossip::CoalescedEvent;

struct ScriptInput {
  std::vector<std::pair<std::string, std::string>> env;  // in order; later ones win
  std::string stdin_data;
};

EventKind kind_of(const HandlerEvent& ev);
// The user event's or query's name; empty for member events.
std::string_view name_of(const HandlerEvent& ev);
// For logs: "member-join", "user:deploy", "query:uptime".
std::string describe(const HandlerEvent& ev);

// `self` is this node as it is when the handler runs (name and tags).
ScriptInput render_script_input(const HandlerEvent& ev, const gossip::Member& self);

// "web-zone.a" -> "WEB_ZONE_A" (serf's SERF_TAG_ suffix; one '_' per non-ASCII character).
std::string tag_env_suffix(std::string_view key);

}  // namespace shoal::node
