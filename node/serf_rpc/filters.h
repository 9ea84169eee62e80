// node/serf_rpc/filters.h
//
// The three filters of Serf's agent RPC, with serf's semantics (not Shoal's HTTP ones):
//  - EventFilter: the `stream` command's Type, "member-join,user:deploy,query:*,..."
//    (serf's ParseEventFilter / EventFilter.Invoke). Empty means "*".
//  - SerfMemberFilter: `members-filtered`. Each pattern is wrapped as "^PATTERN$" and
//    searched, as serf's regexp.Compile(fmt.Sprintf("^%s$", expr)) is; a member without a
//    filtered tag is matched as if the tag were "" (Go's map zero value).
//  - monitor log levels: TRACE, DEBUG, INFO, WARN, ERR (any case).
//
// Contract: pure values, immutable once built; safe to copy to other threads. Regular
// expressions are ECMAScript (std::regex), which agrees with Go's RE2 on the patterns
// people filter with (alternation, classes, .*, anchors); constructs only one of them
// knows are rejected or read differently. Building never throws.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <spdlog/common.h>

#include "base/status.h"
#include "node/agent_control.h"

namespace shoal::node::serf_rpc {

class EventFilter {
 public:
  // nullopt if any entry names an event type serf does not know (kErrInvalidFilter).
  static std::optional<EventFilter> parse(std::string_view type);
  bool matches(const AgentEvent& e) const;

 private:
  struct Entry {
    std::string event;  // "*", "member-join", ..., "user", "query"
    std::string name;   // user/query name; empty: any
  };
  std::vector<Entry> entries_;
};

class SerfMemberFilter {
 public:
  // invalid_argument "Failed to compile regex: ..." as serf words it.
  static Result<SerfMemberFilter> create(const std::map<std::string, std::string>& tags,
                                         const std::string& status, const std::string& name);
  bool matches(const gossip::Member& m) const;

 private:
  std::vector<std::pair<std::string, std::regex>> tags_;
  std::optional<std::regex> status_;
  std::optional<std::regex> name_;
};

// "info" / "INFO" -> spdlog::level::info; nullopt for anything serf does not accept.
std::optional<spdlog::level::level_enum> monitor_level(std::string_view text);

}  // namespace shoal::node::serf_rpc
