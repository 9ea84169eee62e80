// gossip/wire_serf.cc — Serf's messages (serf/messages.go) inside memberlist user messages.
// As in wire.cc, map keys are written in Go's order: field names sorted byte-wise.
#include <fmt/format.h>

#include "gossip/msgpack_reader.h"
#include "gossip/msgpack_writer.h"
#include "gossip/wire.h"

namespace shoal::gossip {
namespace {

Bytes start(SerfMessageType type) { return Bytes{static_cast<uint8_t>(type)}; }

template <typename T, typename FieldFn>
Result<T> decode_struct(ByteView body, std::string_view name, T msg, FieldFn&& field) {
  MsgpackReader r(body);
  Status s = read_struct(r, name, [&](std::string_view key) { return field(r, msg, key); });
  if (!s.ok()) return s;
  return msg;
}

void write_user_events(MsgpackWriter& w, const SerfUserEvents& e) {
  w.write_map_header(2);
  w.key("Events");
  w.write_array_header(e.events.size());
  for (const auto& ev : e.events) {
    w.write_map_header(2);
    w.key("Name");
    w.write_str(ev.name);
    w.key("Payload");
    w.write_go_bytes(ev.payload);
  }
  w.key("LTime");
  w.write_uint(e.ltime);
}

Status read_user_event_entry(MsgpackReader& r, SerfUserEventEntry& e) {
  return read_struct(r, "user event", [&](std::string_view k) -> Status {
    if (k == "Name") return read_value(r, e.name);
    if (k == "Payload") return read_value(r, e.payload);
    return r.skip();
  });
}

Status read_user_events(MsgpackReader& r, SerfUserEvents& e) {
  return read_struct(r, "user events", [&](std::string_view k) -> Status {
    if (k == "LTime") return read_value(r, e.ltime);
    if (k != "Events") return r.skip();
    e.events.clear();
    if (r.try_read_nil()) return Status();
    auto n = r.read_array_header();
    if (!n.ok()) return n.status();
    for (uint32_t i = 0; i < *n; ++i) {
      SerfUserEventEntry entry;
      Status s = read_user_event_entry(r, entry);
      if (!s.ok()) return s.with_context(fmt::format("element {}", i));
      e.events.push_back(std::move(entry));
    }
    return Status();
  });
}

// Go's []*userEvents: the event buffer is a ring with nil slots, sent whole.
Status read_event_buffer(MsgpackReader& r, std::vector<SerfUserEvents>& out) {
  out.clear();
  if (r.try_read_nil()) return Status();
  auto n = r.read_array_header();
  if (!n.ok()) return n.status();
  for (uint32_t i = 0; i < *n; ++i) {
    if (r.try_read_nil()) continue;
    SerfUserEvents e;
    Status s = read_user_events(r, e);
    if (!s.ok()) return s.with_context(fmt::format("element {}", i));
    out.push_back(std::move(e));
  }
  return Status();
}

}  // namespace

// ---- encoders ------------------------------------------------------------------------

Bytes encode_serf(const SerfLeave& m) {
  Bytes out = start(SerfMessageType::leave);
  MsgpackWriter w(out);
  w.write_map_header(3);
  w.key("LTime");
  w.write_uint(m.ltime);
  w.key("Node");
  w.write_str(m.node);
  w.key("Prune");
  w.write_bool(m.prune);
  return out;
}

Bytes encode_serf(const SerfJoin& m) {
  Bytes out = start(SerfMessageType::join);
  MsgpackWriter w(out);
  w.write_map_header(2);
  w.key("LTime");
  w.write_uint(m.ltime);
  w.key("Node");
  w.write_str(m.node);
  return out;
}

Bytes encode_serf(const SerfPushPull& m) {
  Bytes out = start(SerfMessageType::push_pull);
  MsgpackWriter w(out);
  w.write_map_header(6);
  w.key("EventLTime");
  w.write_uint(m.event_ltime);
  w.key("Events");  // only the occupied slots of Go's ring; Go skips nil slots anyway
  w.write_array_header(m.events.size());
  for (const auto& e : m.events) write_user_events(w, e);
  w.key("LTime");
  w.write_uint(m.ltime);
  w.key("LeftMembers");  // Go makes this slice non-nil: [] rather than nil
  w.write_array_header(m.left_members.size());
  for (const auto& name : m.left_members) w.write_str(name);
  w.key("QueryLTime");
  w.write_uint(m.query_ltime);
  w.key("StatusLTimes");
  w.write_map_header(m.status_ltimes.size());
  for (const auto& [name, ltime] : m.status_ltimes) {
    w.write_str(name);
    w.write_uint(ltime);
  }
  return out;
}

Bytes encode_serf(const SerfUserEvent& m) {
  Bytes out = start(SerfMessageType::user_event);
  MsgpackWriter w(out);
  w.write_map_header(4);
  w.key("CC");
  w.write_bool(m.cc);
  w.key("LTime");
  w.write_uint(m.ltime);
  w.key("Name");
  w.write_str(m.name);
  w.key("Payload");
  w.write_go_bytes(m.payload);
  return out;
}

Bytes encode_serf(const SerfQuery& m) {
  Bytes out = start(SerfMessageType::query);
  MsgpackWriter w(out);
  w.write_map_header(11);
  w.key("Addr");
  w.write_go_bytes(m.addr);
  w.key("Filters");  // Go builds this by appending to a nil slice: nil when empty
  if (m.filters.empty()) {
    w.write_nil();
  } else {
    w.write_array_header(m.filters.size());
    for (const auto& f : m.filters) w.write_raw(f);
  }
  w.key("Flags");
  w.write_uint(m.flags);
  w.key("ID");
  w.write_uint(m.id);
  w.key("LTime");
  w.write_uint(m.ltime);
  w.key("Name");
  w.write_str(m.name);
  w.key("Payload");
  w.write_go_bytes(m.payload);
  w.key("Port");
  w.write_uint(m.port);
  w.key("RelayFactor");
  w.write_uint(m.relay_factor);
  w.key("SourceNode");
  w.write_str(m.source_node);
  w.key("Timeout");
  w.write_int(m.timeout_ns);  // time.Duration: int64 nanoseconds
  return out;
}

Bytes encode_serf(const SerfQueryResponse& m, SerfMessageType type) {
  Bytes out = start(type);
  MsgpackWriter w(out);
  w.write_map_header(5);
  w.key("Flags");
  w.write_uint(m.flags);
  w.key("From");
  w.write_str(m.from);
  w.key("ID");
  w.write_uint(m.id);
  w.key("LTime");
  w.write_uint(m.ltime);
  w.key("Payload");
  w.write_go_bytes(m.payload);
  return out;
}

Bytes encode_serf_relay(const SerfRelayHeader& h, ByteView inner) {
  Bytes out = start(SerfMessageType::relay);
  MsgpackWriter w(out);
  w.write_map_header(2);
  w.key("DestAddr");  // a net.UDPAddr value: {IP, Port, Zone}
  w.write_map_header(3);
  w.key("IP");
  w.write_go_bytes(h.dest_ip);
  w.key("Port");
  w.write_int(h.dest_port);
  w.key("Zone");
  w.write_str(h.dest_zone);
  w.key("DestName");
  w.write_str(h.dest_name);
  out.insert(out.end(), inner.begin(), inner.end());
  return out;
}

Bytes encode_filter_nodes(const std::vector<std::string>& nodes) {
  Bytes out{static_cast<uint8_t>(FilterType::node)};
  MsgpackWriter w(out);
  w.write_array_header(nodes.size());
  for (const auto& n : nodes) w.write_str(n);
  return out;
}

Bytes encode_filter_tag(const SerfTagFilter& f) {
  Bytes out{static_cast<uint8_t>(FilterType::tag)};
  MsgpackWriter w(out);
  w.write_map_header(2);
  w.key("Expr");
  w.write_str(f.expr);
  w.key("Tag");
  w.write_str(f.tag);
  return out;
}

Bytes encode_serf_conflict_member(const std::optional<SerfMemberInfo>& m) {
  Bytes out = start(SerfMessageType::conflict_response);
  MsgpackWriter w(out);
  if (!m) {
    w.write_nil();
    return out;
  }
  w.write_map_header(11);
  w.key("Addr");
  w.write_go_bytes(m->addr);
  w.key("DelegateCur");
  w.write_uint(m->delegate_cur);
  w.key("DelegateMax");
  w.write_uint(m->delegate_max);
  w.key("DelegateMin");
  w.write_uint(m->delegate_min);
  w.key("Name");
  w.write_str(m->name);
  w.key("Port");
  w.write_uint(m->port);
  w.key("ProtocolCur");
  w.write_uint(m->protocol_cur);
  w.key("ProtocolMax");
  w.write_uint(m->protocol_max);
  w.key("ProtocolMin");
  w.write_uint(m->protocol_min);
  w.key("Status");
  w.write_int(m->status);
  w.key("Tags");
  w.write_map_header(m->tags.size());
  for (const auto& [k, v] : m->tags) {
    w.write_str(k);
    w.write_str(v);
  }
  return out;
}

// ---- decoders ------------------------------------------------------------------------

Result<SerfLeave> decode_serf_leave(ByteView body) {
  return decode_struct(body, "serf leave", SerfLeave{}, [](MsgpackReader& r, SerfLeave& m, std::string_view k) -> Status {
    if (k == "LTime") return read_value(r, m.ltime);
    if (k == "Node") return read_value(r, m.node);
    if (k == "Prune") return read_value(r, m.prune);
    return r.skip();
  });
}

Result<SerfJoin> decode_serf_join(ByteView body) {
  return decode_struct(body, "serf join", SerfJoin{}, [](MsgpackReader& r, SerfJoin& m, std::string_view k) -> Status {
    if (k == "LTime") return read_value(r, m.ltime);
    if (k == "Node") return read_value(r, m.node);
    return r.skip();
  });
}

Result<SerfPushPull> decode_serf_push_pull(ByteView body) {
  return decode_struct(body, "serf push-pull", SerfPushPull{},
                       [](MsgpackReader& r, SerfPushPull& m, std::string_view k) -> Status {
    if (k == "LTime") return read_value(r, m.ltime);
    if (k == "StatusLTimes") return read_value(r, m.status_ltimes);
    if (k == "LeftMembers") return read_value(r, m.left_members);
    if (k == "EventLTime") return read_value(r, m.event_ltime);
    if (k == "Events") return read_event_buffer(r, m.events);
    if (k == "QueryLTime") return read_value(r, m.query_ltime);
    return r.skip();
  });
}

Result<SerfUserEvent> decode_serf_user_event(ByteView body) {
  return decode_struct(body, "serf user event", SerfUserEvent{},
                       [](MsgpackReader& r, SerfUserEvent& m, std::string_view k) -> Status {
    if (k == "LTime") return read_value(r, m.ltime);
    if (k == "Name") return read_value(r, m.name);
    if (k == "Payload") return read_value(r, m.payload);
    if (k == "CC") return read_value(r, m.cc);
    return r.skip();
  });
}

Result<SerfQuery> decode_serf_query(ByteView body) {
  return decode_struct(body, "serf query", SerfQuery{}, [](MsgpackReader& r, SerfQuery& m, std::string_view k) -> Status {
    if (k == "LTime") return read_value(r, m.ltime);
    if (k == "ID") return read_value(r, m.id);
    if (k == "Addr") return read_value(r, m.addr);
    if (k == "Port") return read_value(r, m.port);
    if (k == "SourceNode") return read_value(r, m.source_node);
    if (k == "Filters") return read_value(r, m.filters);
    if (k == "Flags") return read_value(r, m.flags);
    if (k == "RelayFactor") return read_value(r, m.relay_factor);
    if (k == "Timeout") return read_value(r, m.timeout_ns);
    if (k == "Name") return read_value(r, m.name);
    if (k == "Payload") return read_value(r, m.payload);
    return r.skip();
  });
}

Result<SerfQueryResponse> decode_serf_query_response(ByteView body) {
  return decode_struct(body, "serf query response", SerfQueryResponse{},
                       [](MsgpackReader& r, SerfQueryResponse& m, std::string_view k) -> Status {
    if (k == "LTime") return read_value(r, m.ltime);
    if (k == "ID") return read_value(r, m.id);
    if (k == "From") return read_value(r, m.from);
    if (k == "Flags") return read_value(r, m.flags);
    if (k == "Payload") return read_value(r, m.payload);
    return r.skip();
  });
}

Result<std::pair<SerfRelayHeader, ByteView>> decode_serf_relay(ByteView body) {
  MsgpackReader r(body);
  SerfRelayHeader h;
  Status s = read_struct(r, "serf relay", [&](std::string_view k) -> Status {
    if (k == "DestName") return read_value(r, h.dest_name);
    if (k != "DestAddr") return r.skip();
    return read_struct(r, "address", [&](std::string_view a) -> Status {
      if (a == "IP") return read_value(r, h.dest_ip);
      if (a == "Port") return read_value(r, h.dest_port);
      if (a == "Zone") return read_value(r, h.dest_zone);
      return r.skip();
    });
  });
  if (!s.ok()) return s;
  if (r.at_end()) return Status::corruption("serf relay: no message after the header");
  return std::make_pair(std::move(h), r.rest());
}

Result<std::optional<SerfMemberInfo>> decode_serf_conflict_member(ByteView payload) {
  if (payload.empty() || payload[0] != static_cast<uint8_t>(SerfMessageType::conflict_response)) {
    return Status::corruption("conflict response: wrong or missing message type");
  }
  MsgpackReader r(payload.subspan(1));
  if (r.try_read_nil()) return std::optional<SerfMemberInfo>();
  SerfMemberInfo m;
  Status s = read_struct(r, "conflict response", [&](std::string_view k) -> Status {
    if (k == "Name") return read_value(r, m.name);
    if (k == "Addr") return read_value(r, m.addr);
    if (k == "Port") return read_value(r, m.port);
    if (k == "Tags") return read_value(r, m.tags);
    if (k == "Status") return read_value(r, m.status);
    if (k == "ProtocolMin") return read_value(r, m.protocol_min);
    if (k == "ProtocolMax") return read_value(r, m.protocol_max);
    if (k == "ProtocolCur") return read_value(r, m.protocol_cur);
    if (k == "DelegateMin") return read_value(r, m.delegate_min);
    if (k == "DelegateMax") return read_value(r, m.delegate_max);
    if (k == "DelegateCur") return read_value(r, m.delegate_cur);
    return r.skip();
  });
  if (!s.ok()) return s;
  return std::optional<SerfMemberInfo>(std::move(m));
}

Result<std::vector<std::string>> decode_filter_nodes(ByteView filter) {
  if (filter.empty() || filter[0] != static_cast<uint8_t>(FilterType::node)) {
    return Status::corruption("node filter: wrong or missing filter type");
  }
  MsgpackReader r(filter.subspan(1));
  std::vector<std::string> nodes;
  Status s = read_value(r, nodes);
  if (!s.ok()) return s.with_context("node filter");
  return nodes;
}

Result<SerfTagFilter> decode_filter_tag(ByteView filter) {
  if (filter.empty() || filter[0] != static_cast<uint8_t>(FilterType::tag)) {
    return Status::corruption("tag filter: wrong or missing filter type");
  }
  return decode_struct(filter.subspan(1), "tag filter", SerfTagFilter{},
                       [](MsgpackReader& r, SerfTagFilter& m, std::string_view k) -> Status {
    if (k == "Tag") return read_value(r, m.tag);
    if (k == "Expr") return read_value(r, m.expr);
    return r.skip();
  });
}

}  // namespace shoal::gossip
