#include "node/event_filter.h"

#include <array>
#include <utility>

namespace shoal::node {
namespace {

constexpr std::array<std::pair<EventKind, std::string_view>, 7> kKinds = {{
    {EventKind::member_join, "member-join"},
    {EventKind::member_leave, "member-leave"},
    {EventKind::member_failed, "member-failed"},
    {EventKind::member_update, "member-update"},
    {EventKind::member_reap, "member-reap"},
    {EventKind::user, "user"},
    {EventKind::query, "query"},
}};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<EventFilter> parse_one(std::string_view item) {
  EventFilter f;
  if (item == "*") {
    f.any = true;
    return f;
  }
  std::string_view kind = item;
  if (auto colon = item.find(':'); colon != std::string_view::npos) {
    kind = item.substr(0, colon);
    if (kind != "user" && kind != "query") {
      return Status::invalid_argument("'" + std::string(item) +
                                      "': only user and query events have names (user:NAME, "
                                      "query:NAME)");
    }
    f.name = std::string(item.substr(colon + 1));
  }
  for (const auto& [k, name] : kKinds) {
    if (kind == name) {
      f.kind = k;
      return f;
    }
  }
  return Status::invalid_argument(
      "unknown event '" + std::string(item) +
      "' (choose member-join, member-leave, member-failed, member-update, member-reap, user, "
      "user:NAME, query, query:NAME or *)");
}

}  // namespace

std::string_view event_kind_name(EventKind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "unknown";
}

bool EventFilter::matches(EventKind event, std::string_view event_name) const {
  if (any) return true;
  if (event != kind) return false;
  if (!name.empty() && (kind == EventKind::user || kind == EventKind::query)) {
    return event_name == name;
  }
  return true;
}

std::string EventFilter::to_string() const {
  if (any) return "*";
  std::string out(event_kind_name(kind));
  if (!name.empty()) out += ":" + name;
  return out;
}

bool EventHandlerSpec::matches(EventKind event, std::string_view event_name) const {
  for (const auto& f : filters) {
    if (f.matches(event, event_name)) return true;
  }
  return false;
}

Result<std::vector<EventFilter>> parse_event_filters(std::string_view text) {
  std::vector<EventFilter> out;
  if (trim(text).empty()) {
    out.push_back(EventFilter{.any = true});
    return out;
  }
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string_view item =
        trim(text.substr(start, comma == std::string_view::npos ? text.npos : comma - start));
    if (item.empty()) {
      return Status::invalid_argument("filter '" + std::string(text) +
                                      "' has an empty entry between commas");
    }
    auto f = parse_one(item);
    if (!f.ok()) return f.status();
    out.push_back(std::move(*f));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

Result<EventHandlerSpec> parse_event_handler(std::string_view text) {
  EventHandlerSpec spec;
  spec.text = std::string(text);
  std::string_view filter;
  std::string_view script = text;
  if (auto eq = text.find('='); eq != std::string_view::npos) {
    filter = text.substr(0, eq);
    script = text.substr(eq + 1);
  }
  auto filters = parse_event_filters(filter);
  if (!filters.ok()) {
    return Status::invalid_argument(
        "event handler '" + spec.text + "': " + filters.status().message() +
        "; the part before the first '=' is the filter, so a script containing '=' needs "
        "one in front, like '*=SCRIPT'");
  }
  if (trim(script).empty()) {
    return Status::invalid_argument("event handler '" + spec.text + "': the script is empty");
  }
  spec.filters = std::move(*filters);
  spec.script = std::string(script);
  return spec;
}

}  // namespace shoal::node
