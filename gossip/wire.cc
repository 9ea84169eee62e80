// gossip/wire.cc — memberlist messages, push-pull and stream user messages.
// Field order in every encoder is Go's: field names sorted byte-wise (go-msgpack sorts a
// struct's fields by encoded name before writing the map). Tests check the order.
#include "gossip/wire.h"

#include <fmt/format.h>

#include "gossip/msgpack_reader.h"
#include "gossip/msgpack_writer.h"

namespace shoal::gossip {
namespace {

Bytes start(MessageType type) { return Bytes{static_cast<uint8_t>(type)}; }

// A struct decoder: runs read_struct over `body` and returns the filled message.
template <typename T, typename FieldFn>
Result<T> decode_struct(ByteView body, std::string_view name, T msg, FieldFn&& field) {
  MsgpackReader r(body);
  Status s = read_struct(r, name, [&](std::string_view key) { return field(r, msg, key); });
  if (!s.ok()) return s;
  return msg;
}

void write_node_state(MsgpackWriter& w, const PushNodeState& n) {
  w.write_map_header(7);
  w.key("Addr");
  w.write_go_bytes(n.addr);
  w.key("Incarnation");
  w.write_uint(n.incarnation);
  w.key("Meta");
  w.write_go_bytes(n.meta);
  w.key("Name");
  w.write_str(n.name);
  w.key("Port");
  w.write_uint(n.port);
  w.key("State");
  w.write_int(static_cast<int64_t>(n.state));  // Go: NodeStateType int
  w.key("Vsn");
  w.write_go_bytes(n.vsn);
}

Status read_state_type(MsgpackReader& r, NodeStateType& out) {
  int64_t v = 0;
  SHOAL_RETURN_IF_ERROR(read_value(r, v));
  if (v < 0 || v > static_cast<int64_t>(NodeStateType::left)) {
    return Status::corruption(fmt::format("unknown node state {}", v));
  }
  out = static_cast<NodeStateType>(v);
  return Status();
}

Status read_node_state(MsgpackReader& r, PushNodeState& n) {
  return read_struct(r, "push-pull node", [&](std::string_view k) -> Status {
    if (k == "Name") return read_value(r, n.name);
    if (k == "Addr") return read_value(r, n.addr);
    if (k == "Port") return read_value(r, n.port);
    if (k == "Meta") return read_value(r, n.meta);
    if (k == "Incarnation") return read_value(r, n.incarnation);
    if (k == "State") return read_state_type(r, n.state);
    if (k == "Vsn") return read_value(r, n.vsn);
    return r.skip();
  });
}

}  // namespace

// ---- encoders ------------------------------------------------------------------------

Bytes encode(const Ping& m) {
  Bytes out = start(MessageType::ping);
  MsgpackWriter w(out);
  const bool addr = !m.source_addr.empty(), port = m.source_port != 0, node = !m.source_node.empty();
  w.write_map_header(2 + addr + port + node);
  w.key("Node");
  w.write_str(m.node);
  w.key("SeqNo");
  w.write_uint(m.seq_no);
  if (addr) { w.key("SourceAddr"); w.write_raw(m.source_addr); }
  if (node) { w.key("SourceNode"); w.write_str(m.source_node); }
  if (port) { w.key("SourcePort"); w.write_uint(m.source_port); }
  return out;
}

Bytes encode(const IndirectPing& m) {
  Bytes out = start(MessageType::indirect_ping);
  MsgpackWriter w(out);
  const bool addr = !m.source_addr.empty(), port = m.source_port != 0, node = !m.source_node.empty();
  w.write_map_header(5 + addr + port + node);
  w.key("Nack");
  w.write_bool(m.nack);
  w.key("Node");
  w.write_str(m.node);
  w.key("Port");
  w.write_uint(m.port);
  w.key("SeqNo");
  w.write_uint(m.seq_no);
  if (addr) { w.key("SourceAddr"); w.write_raw(m.source_addr); }
  if (node) { w.key("SourceNode"); w.write_str(m.source_node); }
  if (port) { w.key("SourcePort"); w.write_uint(m.source_port); }
  w.key("Target");
  w.write_go_bytes(m.target);
  return out;
}

Bytes encode(const Ack& m) {
  Bytes out = start(MessageType::ack);
  MsgpackWriter w(out);
  w.write_map_header(2);
  w.key("Payload");
  w.write_go_bytes(m.payload);
  w.key("SeqNo");
  w.write_uint(m.seq_no);
  return out;
}

Bytes encode(const Nack& m) {
  Bytes out = start(MessageType::nack);
  MsgpackWriter w(out);
  w.write_map_header(1);
  w.key("SeqNo");
  w.write_uint(m.seq_no);
  return out;
}

Bytes encode(const ErrResp& m) {
  Bytes out = start(MessageType::err);
  MsgpackWriter w(out);
  w.write_map_header(1);
  w.key("Error");
  w.write_str(m.error);
  return out;
}

namespace {
// suspect and dead share their shape: {From, Incarnation, Node}.
Bytes encode_accusation(MessageType type, uint32_t incarnation, const std::string& node,
                        const std::string& from) {
  Bytes out = start(type);
  MsgpackWriter w(out);
  w.write_map_header(3);
  w.key("From");
  w.write_str(from);
  w.key("Incarnation");
  w.write_uint(incarnation);
  w.key("Node");
  w.write_str(node);
  return out;
}
}  // namespace

Bytes encode(const Suspect& m) {
  return encode_accusation(MessageType::suspect, m.incarnation, m.node, m.from);
}
Bytes encode(const Dead& m) {
  return encode_accusation(MessageType::dead, m.incarnation, m.node, m.from);
}

Bytes encode(const Alive& m) {
  Bytes out = start(MessageType::alive);
  MsgpackWriter w(out);
  w.write_map_header(6);
  w.key("Addr");
  w.write_go_bytes(m.addr);
  w.key("Incarnation");
  w.write_uint(m.incarnation);
  w.key("Meta");
  w.write_go_bytes(m.meta);
  w.key("Node");
  w.write_str(m.node);
  w.key("Port");
  w.write_uint(m.port);
  w.key("Vsn");
  w.write_go_bytes(m.vsn);
  return out;
}

// ---- decoders ------------------------------------------------------------------------

Result<Ping> decode_ping(ByteView body) {
  return decode_struct(body, "ping", Ping{}, [](MsgpackReader& r, Ping& m, std::string_view k) -> Status {
    if (k == "SeqNo") return read_value(r, m.seq_no);
    if (k == "Node") return read_value(r, m.node);
    if (k == "SourceAddr") return read_value(r, m.source_addr);
    if (k == "SourcePort") return read_value(r, m.source_port);
    if (k == "SourceNode") return read_value(r, m.source_node);
    return r.skip();
  });
}

Result<IndirectPing> decode_indirect_ping(ByteView body) {
  return decode_struct(body, "indirect ping", IndirectPing{},
                       [](MsgpackReader& r, IndirectPing& m, std::string_view k) -> Status {
    if (k == "SeqNo") return read_value(r, m.seq_no);
    if (k == "Target") return read_value(r, m.target);
    if (k == "Port") return read_value(r, m.port);
    if (k == "Node") return read_value(r, m.node);
    if (k == "Nack") return read_value(r, m.nack);
    if (k == "SourceAddr") return read_value(r, m.source_addr);
    if (k == "SourcePort") return read_value(r, m.source_port);
    if (k == "SourceNode") return read_value(r, m.source_node);
    return r.skip();
  });
}

Result<Ack> decode_ack(ByteView body) {
  return decode_struct(body, "ack", Ack{}, [](MsgpackReader& r, Ack& m, std::string_view k) -> Status {
    if (k == "SeqNo") return read_value(r, m.seq_no);
    if (k == "Payload") return read_value(r, m.payload);
    return r.skip();
  });
}

Result<Nack> decode_nack(ByteView body) {
  return decode_struct(body, "nack", Nack{}, [](MsgpackReader& r, Nack& m, std::string_view k) -> Status {
    if (k == "SeqNo") return read_value(r, m.seq_no);
    return r.skip();
  });
}

Result<ErrResp> decode_err(ByteView body) {
  return decode_struct(body, "err", ErrResp{}, [](MsgpackReader& r, ErrResp& m, std::string_view k) -> Status {
    if (k == "Error") return read_value(r, m.error);
    return r.skip();
  });
}

Result<Suspect> decode_suspect(ByteView body) {
  return decode_struct(body, "suspect", Suspect{}, [](MsgpackReader& r, Suspect& m, std::string_view k) -> Status {
    if (k == "Incarnation") return read_value(r, m.incarnation);
    if (k == "Node") return read_value(r, m.node);
    if (k == "From") return read_value(r, m.from);
    return r.skip();
  });
}

Result<Dead> decode_dead(ByteView body) {
  return decode_struct(body, "dead", Dead{}, [](MsgpackReader& r, Dead& m, std::string_view k) -> Status {
    if (k == "Incarnation") return read_value(r, m.incarnation);
    if (k == "Node") return read_value(r, m.node);
    if (k == "From") return read_value(r, m.from);
    return r.skip();
  });
}

Result<Alive> decode_alive(ByteView body) {
  return decode_struct(body, "alive", Alive{}, [](MsgpackReader& r, Alive& m, std::string_view k) -> Status {
    if (k == "Incarnation") return read_value(r, m.incarnation);
    if (k == "Node") return read_value(r, m.node);
    if (k == "Addr") return read_value(r, m.addr);
    if (k == "Port") return read_value(r, m.port);
    if (k == "Meta") return read_value(r, m.meta);
    if (k == "Vsn") return read_value(r, m.vsn);
    return r.skip();
  });
}

// ---- push-pull -----------------------------------------------------------------------

Bytes encode_push_pull(const PushPull& m) {
  Bytes out = start(MessageType::push_pull);
  MsgpackWriter w(out);
  w.write_map_header(3);
  w.key("Join");
  w.write_bool(m.join);
  w.key("Nodes");
  w.write_int(static_cast<int64_t>(m.nodes.size()));
  w.key("UserStateLen");
  w.write_int(static_cast<int64_t>(m.user_state.size()));
  for (const auto& n : m.nodes) write_node_state(w, n);
  out.insert(out.end(), m.user_state.begin(), m.user_state.end());
  return out;
}

Result<PushPull> decode_push_pull(ByteView body) {
  MsgpackReader r(body);
  PushPullHeader h;
  Status s = read_struct(r, "push-pull header", [&](std::string_view k) -> Status {
    if (k == "Nodes") return read_value(r, h.nodes);
    if (k == "UserStateLen") return read_value(r, h.user_state_len);
    if (k == "Join") return read_value(r, h.join);
    return r.skip();
  });
  if (!s.ok()) return s;
  // Each node state takes at least one byte, so a count beyond the bytes left is a lie;
  // checking first keeps a hostile count from driving the allocation below.
  if (h.nodes < 0 || static_cast<uint64_t>(h.nodes) > r.remaining()) {
    return Status::corruption(fmt::format("push-pull: {} nodes announced in {} bytes", h.nodes, r.remaining()));
  }
  if (h.user_state_len < 0 || static_cast<uint64_t>(h.user_state_len) > kMaxPushStateBytes) {
    return Status::corruption(fmt::format("push-pull: user state of {} bytes (limit {})",
                                          h.user_state_len, kMaxPushStateBytes));
  }
  PushPull m;
  m.join = h.join;
  m.nodes.reserve(static_cast<size_t>(h.nodes));
  for (int64_t i = 0; i < h.nodes; ++i) {
    PushNodeState n;
    s = read_node_state(r, n);
    if (!s.ok()) return s.with_context(fmt::format("push-pull: node {}", i));
    m.nodes.push_back(std::move(n));
  }
  const auto user_len = static_cast<size_t>(h.user_state_len);
  if (r.remaining() < user_len) {
    return Status::corruption(fmt::format("push-pull: truncated user state ({} / {} bytes)",
                                          r.remaining(), user_len));
  }
  ByteView user = r.rest().first(user_len);
  m.user_state.assign(user.begin(), user.end());
  return m;
}

// ---- user messages on a stream -------------------------------------------------------

Bytes encode_user_stream(ByteView payload) {
  Bytes out = start(MessageType::user);
  MsgpackWriter w(out);
  w.write_map_header(1);
  w.key("UserMsgLen");
  w.write_int(static_cast<int64_t>(payload.size()));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Result<ByteView> decode_user_stream(ByteView body) {
  MsgpackReader r(body);
  UserMsgHeader h;
  Status s = read_struct(r, "user message header", [&](std::string_view k) -> Status {
    if (k == "UserMsgLen") return read_value(r, h.user_msg_len);
    return r.skip();
  });
  if (!s.ok()) return s;
  if (h.user_msg_len < 0 || static_cast<uint64_t>(h.user_msg_len) > r.remaining()) {
    return Status::corruption(fmt::format("user message: {} bytes announced, {} present",
                                          h.user_msg_len, r.remaining()));
  }
  return r.rest().first(static_cast<size_t>(h.user_msg_len));
}

}  // namespace shoal::gossip
