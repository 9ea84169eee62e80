#include "node/serf_rpc/filters.h"

#include <algorithm>
#include <cctype>

#include "node/member_filter.h"

namespace shoal::node::serf_rpc {
namespace {

constexpr size_t kPatternMax = 256;

Result<std::regex> anchored(const std::string& pattern) {
  if (pattern.size() > kPatternMax) {
    return Status::invalid_argument("Failed to compile regex: pattern longer than " +
                                    std::to_string(kPatternMax) + " characters");
  }
  try {
    return std::regex("^" + pattern + "$", std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return Status::invalid_argument("Failed to compile regex: '" + pattern + "': " + e.what());
  }
}

bool search(const std::regex& re, const std::string& text) {
  try {
    return std::regex_search(text, re);
  } catch (const std::regex_error&) {
    return false;  // e.g. a complexity limit: no match rather than a crash
  }
}

}  // namespace

std::optional<EventFilter> EventFilter::parse(std::string_view type) {
  if (type.empty()) type = "*";
  EventFilter f;
  size_t start = 0;
  while (start <= type.size()) {
    size_t comma = type.find(',', start);
    if (comma == std::string_view::npos) comma = type.size();
    std::string_view item = type.substr(start, comma - start);
    Entry e;
    if (item.starts_with("user:")) {
      e.event = "user";
      e.name = std::string(item.substr(5));
    } else if (item.starts_with("query:")) {
      e.event = "query";
      e.name = std::string(item.substr(6));
    } else {
      e.event = std::string(item);
    }
    static const char* kValid[] = {"member-join", "member-leave", "member-failed",
                                   "member-update", "member-reap", "user", "query", "*"};
    if (std::none_of(std::begin(kValid), std::end(kValid),
                     [&](const char* v) { return e.event == v; })) {
      return std::nullopt;
    }
    f.entries_.push_back(std::move(e));
    start = comma + 1;
  }
  return f;
}

bool EventFilter::matches(const AgentEvent& ev) const {
  for (const auto& e : entries_) {
    if (e.event == "*") return true;
    switch (ev.kind) {
      case AgentEvent::Kind::member:
        if (e.event == member_event_name(ev.member_type)) return true;
        break;
      case AgentEvent::Kind::user:
        if (e.event == "user" && (e.name.empty() || e.name == ev.user.name)) return true;
        break;
      case AgentEvent::Kind::query:
        if (e.event == "query" && (e.name.empty() || e.name == ev.query.name)) return true;
        break;
    }
  }
  return false;
}

Result<SerfMemberFilter> SerfMemberFilter::create(const std::map<std::string, std::string>& tags,
                                                  const std::string& status,
                                                  const std::string& name) {
  SerfMemberFilter f;
  for (const auto& [key, pattern] : tags) {
    auto re = anchored(pattern);
    if (!re.ok()) return re.status();
    f.tags_.emplace_back(key, std::move(*re));
  }
  // Serf compiles the status and name patterns even when empty; an empty one matches all.
  if (!status.empty()) {
    auto re = anchored(status);
    if (!re.ok()) return re.status();
    f.status_ = std::move(*re);
  }
  if (!name.empty()) {
    auto re = anchored(name);
    if (!re.ok()) return re.status();
    f.name_ = std::move(*re);
  }
  return f;
}

bool SerfMemberFilter::matches(const gossip::Member& m) const {
  static const std::string kEmpty;
  for (const auto& [key, re] : tags_) {
    auto it = m.tags.find(key);
    if (!search(re, it == m.tags.end() ? kEmpty : it->second)) return false;
  }
  if (status_ && !search(*status_, std::string(gossip::to_string(m.status)))) return false;
  if (name_ && !search(*name_, m.name)) return false;
  return true;
}

std::optional<spdlog::level::level_enum> monitor_level(std::string_view text) {
  std::string up(text);
  std::transform(up.begin(), up.end(), up.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (up == "TRACE") return spdlog::level::trace;
  if (up == "DEBUG") return spdlog::level::debug;
  if (up == "INFO") return spdlog::level::info;
  if (up == "WARN") return spdlog::level::warn;
  if (up == "ERR") return spdlog::level::err;
  return std::nullopt;
}

}  // namespace shoal::node::serf_rpc
