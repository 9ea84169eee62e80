#include "node/event_script.h"

#include <type_traits>

namespace shoal::node {
namespace {

EventKind member_kind(gossip::MemberEventType t) {
  switch (t) {
    case gossip::MemberEventType::join: return EventKind::member_join;
    case gossip::MemberEventType::leave: return EventKind::member_leave;
    case gossip::MemberEventType::failed: return EventKind::member_failed;
    case gossip::MemberEventType::update: return EventKind::member_update;
    case gossip::MemberEventType::reap: return EventKind::member_reap;
  }
  return EventKind::member_update;
}

// serf's eventClean: a field must not break the line or the columns.
std::string clean(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string tag_value(const gossip::Member& m, const std::string& key) {
  auto it = m.tags.find(key);
  return it == m.tags.end() ? std::string() : it->second;
}

std::string member_lines(const std::vector<gossip::Member>& members) {
  std::string out;
  for (const auto& m : members) {
    std::string tags;
    for (const auto& [k, v] : m.tags) {  // std::map: sorted by key (serf: map order)
      if (!tags.empty()) tags += ',';
      tags += k + "=" + v;
    }
    out += clean(m.name) + "\t" + m.addr.ip_string() + "\t" + clean(tag_value(m, "role")) +
           "\t" + clean(tags) + "\n";
  }
  return out;
}

std::string payload_text(const Bytes& payload) {
  std::string out(reinterpret_cast<const char*>(payload.data()), payload.size());
  if (!out.empty() && out.back() != '\n') out += '\n';  // most shells' `read` needs one
  return out;
}

}  // namespace

EventKind kind_of(const HandlerEvent& ev) {
  if (const auto* m = std::get_if<gossip::MemberEventBatch>(&ev)) return member_kind(m->type);
  if (std::holds_alternative<gossip::UserEvent>(ev)) return EventKind::user;
  return EventKind::query;
}

std::string_view name_of(const HandlerEvent& ev) {
  if (const auto* u = std::get_if<gossip::UserEvent>(&ev)) return u->name;
  if (const auto* q = std::get_if<gossip::QueryReceived>(&ev)) return q->name;
  return {};
}

std::string describe(const HandlerEvent& ev) {
  std::string out(event_kind_name(kind_of(ev)));
  if (!std::holds_alternative<gossip::MemberEventBatch>(ev)) out += ":" + std::string(name_of(ev));
  return out;
}

std::string tag_env_suffix(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (unsigned char c : key) {
    if ((c & 0xC0) == 0x80) continue;  // a UTF-8 continuation byte: its character has its '_'
    if (c >= 'a' && c <= 'z') c = static_cast<unsigned char>(c - 'a' + 'A');
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out += keep ? static_cast<char>(c) : '_';
  }
  return out;
}

ScriptInput render_script_input(const HandlerEvent& ev, const gossip::Member& self) {
  ScriptInput in;
  auto set = [&](const std::string& suffix, std::string value) {
    in.env.emplace_back("SERF_" + suffix, value);
    in.env.emplace_back("SHOAL_" + suffix, std::move(value));
  };
  set("EVENT", std::string(event_kind_name(kind_of(ev))));
  set("SELF_NAME", self.name);
  set("SELF_ROLE", tag_value(self, "role"));
  for (const auto& [k, v] : self.tags) set("TAG_" + tag_env_suffix(k), v);
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, gossip::MemberEventBatch>) {
          in.stdin_data = member_lines(e.members);
        } else if constexpr (std::is_same_v<T, gossip::UserEvent>) {
          set("USER_EVENT", e.name);
          set("USER_LTIME", std::to_string(e.ltime));
          in.stdin_data = payload_text(e.payload);
        } else {
          set("QUERY_NAME", e.name);
          set("QUERY_LTIME", std::to_string(e.ltime));
          in.stdin_data = payload_text(e.payload);
        }
      },
      ev);
  return in;
}

}  // namespace shoal::node
