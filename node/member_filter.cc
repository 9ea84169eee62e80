#include "node/member_filter.h"

#include "node/agent_config.h"

namespace shoal::node {
namespace {

constexpr size_t kPatternMax = 256;

Result<std::regex> compile(std::string_view what, const std::string& pattern) {
  if (pattern.size() > kPatternMax) {
    return Status::invalid_argument(std::string(what) + " pattern is longer than " +
                                    std::to_string(kPatternMax) + " characters");
  }
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return Status::invalid_argument(std::string(what) + " pattern '" + pattern +
                                    "' is not a valid regular expression: " + e.what());
  }
}

}  // namespace

std::string_view member_status_name(gossip::MemberStatus s) {
  switch (s) {
    case gossip::MemberStatus::none: return "none";
    case gossip::MemberStatus::alive: return "alive";
    case gossip::MemberStatus::leaving: return "leaving";
    case gossip::MemberStatus::left: return "left";
    case gossip::MemberStatus::failed: return "failed";
  }
  return "unknown";
}

std::string_view member_event_name(gossip::MemberEventType t) {
  switch (t) {
    case gossip::MemberEventType::join: return "member-join";
    case gossip::MemberEventType::leave: return "member-leave";
    case gossip::MemberEventType::failed: return "member-failed";
    case gossip::MemberEventType::update: return "member-update";
    case gossip::MemberEventType::reap: return "member-reap";
  }
  return "member-unknown";
}

Result<gossip::MemberStatus> parse_member_status(std::string_view text) {
  for (auto s : {gossip::MemberStatus::alive, gossip::MemberStatus::leaving,
                 gossip::MemberStatus::left, gossip::MemberStatus::failed}) {
    if (text == member_status_name(s)) return s;
  }
  return Status::invalid_argument("unknown member status '" + std::string(text) +
                                  "' (choose alive, leaving, left or failed)");
}

Result<MemberFilter> MemberFilter::create(const std::optional<std::string>& status,
                                          const std::vector<std::string>& tags,
                                          const std::optional<std::string>& name) {
  MemberFilter f;
  if (status && !status->empty()) {
    auto s = parse_member_status(*status);
    if (!s.ok()) return s.status();
    f.status_ = *s;
  }
  for (const auto& t : tags) {
    auto kv = parse_tag(t);
    if (!kv.ok()) return Status::invalid_argument("tag filter: " + kv.status().message());
    auto re = compile("tag '" + kv->first + "'", kv->second);
    if (!re.ok()) return re.status();
    f.tags_.emplace_back(kv->first, std::move(*re));
  }
  if (name && !name->empty()) {
    auto re = compile("name", *name);
    if (!re.ok()) return re.status();
    f.name_ = std::move(*re);
  }
  return f;
}

bool MemberFilter::matches(const gossip::Member& m) const {
  if (status_ && m.status != *status_) return false;
  if (name_ && !std::regex_match(m.name, *name_)) return false;
  for (const auto& [key, re] : tags_) {
    auto it = m.tags.find(key);
    if (it == m.tags.end() || !std::regex_match(it->second, re)) return false;
  }
  return true;
}

std::vector<gossip::Member> MemberFilter::apply(std::vector<gossip::Member> members) const {
  std::vector<gossip::Member> out;
  for (auto& m : members) {
    if (matches(m)) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace shoal::node
