// node/member_filter.h
//
// MemberFilter: which members a `GET /v1/members` (or `shoal members`) asks for. Mirrors
// serf's `members -status -tag -name`: every pattern is a regular expression (ECMAScript)
// that must match the WHOLE value, all given conditions must hold, and a member without a
// filtered tag does not match.
//
// Contract: pure and immutable once built; safe to share between threads. create() rejects
// an unknown status or a pattern that does not compile with invalid_argument naming it.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "gossip/events.h"

namespace shoal::node {

class MemberFilter {
 public:
  // status: alive|leaving|left|failed (empty: any). tags: "k=regex" each. name: a regex.
  static Result<MemberFilter> create(const std::optional<std::string>& status,
                                     const std::vector<std::string>& tags,
                                     const std::optional<std::string>& name);

  bool matches(const gossip::Member& m) const;
  std::vector<gossip::Member> apply(std::vector<gossip::Member> members) const;

 private:
  MemberFilter() = default;
  std::optional<gossip::MemberStatus> status_;
  std::vector<std::pair<std::string, std::regex>> tags_;
  std::optional<std::regex> name_;
};

// "alive" -> MemberStatus::alive, ...; invalid_argument naming the choices otherwise.
Result<gossip::MemberStatus> parse_member_status(std::string_view text);
// Our own spelling (independent of the core's to_string): alive, leaving, left, failed.
std::string_view member_status_name(gossip::MemberStatus s);
// Serf's event names: member-join, member-leave, member-failed, member-update, member-reap.
std::string_view member_event_name(gossip::MemberEventType t);

}  // namespace shoal::node
