// node/serf_rpc/codec.cc — see the header for the framing; field names follow serf's ipc.go.
#include "node/serf_rpc/codec.h"

#include <array>
#include <cstring>
#include <limits>

#include "gossip/msgpack_reader.h"
#include "gossip/msgpack_writer.h"

namespace shoal::node::serf_rpc {

using gossip::MsgpackReader;
using gossip::MsgpackWriter;
using gossip::read_value;

namespace {

struct CommandName {
  Command command;
  std::string_view name;
  bool body;
};

constexpr std::array<CommandName, 20> kCommands = {{
    {Command::handshake, "handshake", true},
    {Command::auth, "auth", true},
    {Command::event, "event", true},
    {Command::force_leave, "force-leave", true},
    {Command::join, "join", true},
    {Command::members, "members", false},
    {Command::members_filtered, "members-filtered", true},
    {Command::stream, "stream", true},
    {Command::stop, "stop", true},
    {Command::monitor, "monitor", true},
    {Command::leave, "leave", false},
    {Command::install_key, "install-key", true},
    {Command::use_key, "use-key", true},
    {Command::remove_key, "remove-key", true},
    {Command::list_keys, "list-keys", false},
    {Command::tags, "tags", true},
    {Command::query, "query", true},
    {Command::respond, "respond", true},
    {Command::stats, "stats", false},
    {Command::get_coordinate, "get-coordinate", true},
}};

// go-msgpack with WriteExt: str8 for strings, bin for []byte; the rest as MsgpackWriter.
class ExtWriter {
 public:
  explicit ExtWriter(Bytes& out) : out_(out), w_(out) {}

  MsgpackWriter& base() { return w_; }
  void str(std::string_view s) {
    const size_t n = s.size();
    if (n < 32) {
      out_.push_back(static_cast<uint8_t>(0xa0 | n));
    } else if (n < 256) {
      out_.push_back(0xd9);
      out_.push_back(static_cast<uint8_t>(n));
    } else if (n < 65536) {
      out_.push_back(0xda);
      be(n, 2);
    } else {
      out_.push_back(0xdb);
      be(n, 4);
    }
    out_.insert(out_.end(), s.begin(), s.end());
  }
  // A Go []byte; empty is Go's nil slice.
  void bin(ByteView b) {
    const size_t n = b.size();
    if (n == 0) {
      w_.write_nil();
      return;
    }
    if (n < 256) {
      out_.push_back(0xc4);
      out_.push_back(static_cast<uint8_t>(n));
    } else if (n < 65536) {
      out_.push_back(0xc5);
      be(n, 2);
    } else {
      out_.push_back(0xc6);
      be(n, 4);
    }
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void f64(double v) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    out_.push_back(0xcb);
    be(bits, 8);
  }
  void key(std::string_view name) { str(name); }
  void str_map(const std::map<std::string, std::string>& m) {
    w_.write_map_header(m.size());
    for (const auto& [k, v] : m) {
      str(k);
      str(v);
    }
  }

 private:
  void be(uint64_t v, int bytes) {
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
      out_.push_back(static_cast<uint8_t>(v >> shift));
    }
  }
  Bytes& out_;
  MsgpackWriter w_;
};

Status read_int32(MsgpackReader& r, int32_t& out) {
  int64_t v = 0;
  SHOAL_RETURN_IF_ERROR(read_value(r, v));
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
    return Status::corruption("integer " + std::to_string(v) + " does not fit int32");
  }
  out = static_cast<int32_t>(v);
  return Status();
}

// One body struct per command; unknown fields are skipped, as Go ignores them.
Result<RequestBody> decode_body(Command c, MsgpackReader& r) {
  auto fields = [&r](std::string_view type, auto&& on_field) {
    return gossip::read_struct(r, type, [&](std::string_view name) -> Status {
      if (auto st = on_field(name); st.has_value()) return *st;
      return r.skip();
    });
  };
  using Opt = std::optional<Status>;
  switch (c) {
    case Command::handshake: {
      HandshakeRequest b;
      SHOAL_RETURN_IF_ERROR(fields("handshakeRequest", [&](std::string_view n) -> Opt {
        if (n == "Version") return read_int32(r, b.version);
        return std::nullopt;
      }));
      return RequestBody(b);
    }
    case Command::auth: {
      AuthRequest b;
      SHOAL_RETURN_IF_ERROR(fields("authRequest", [&](std::string_view n) -> Opt {
        if (n == "AuthKey") return read_value(r, b.auth_key);
        return std::nullopt;
      }));
      return RequestBody(std::move(b));
    }
    case Command::event: {
      EventRequest b;
      SHOAL_RETURN_IF_ERROR(fields("eventRequest", [&](std::string_view n) -> Opt {
        if (n == "Name") return read_value(r, b.name);
        if (n == "Payload") return read_value(r, b.payload);
        if (n == "Coalesce") return read_value(r, b.coalesce);
        return std::nullopt;
      }));
      return RequestBody(std::move(b));
    }
    case Command::force_leave: {
      ForceLeaveRequest b;
      SHOAL_RETURN_IF_ERROR(fields("forceLeaveRequest", [&](std::string_view n) -> Opt {
        if (n == "Node") return read_value(r, b.node);
        if (n == "Prune") return read_value(r, b.prune);
        return std::nullopt;
      }));
      return RequestBody(std::move(b));
    }
    case Command::join: {
      JoinRequest b;
      SHOAL_RETURN_IF_ERROR(fields("joinRequest", [&](std::string_view n) -> Opt {
        if (n == "Existing") return read_value(r, b.existing);
        if (n == "Replay") return read_value(r, b.replay);
        return std::nullopt;
      }));
      return RequestBody(std::move(b));
    }
    case Command::members_filtered: {
      MembersFilteredRequest b;
      SHOAL_RETURN_IF_ERROR(fields("membersFilteredRequest", [&](std::string_view n) -> Opt {
        if (n == "Tags") return read_value(r, b.tags);
        if (n == "Status") return read_value(r, b.status);
        if (n == "Name") return read_value(r, b.name);
        return std::nullopt;
      }));
      return RequestBody(std::move(b));
    }
    case Command::install_key:
    case Command::use_key:
    case Command::remove_key: {
      KeyRequest b;
      SHOAL_RETURN_IF_ERROR(fields("keyRequest", [&](std::string_view n) -> Opt {
        if (n == "Key") return read_value(r, b.key);
        return std::nullopt;
      }));
      return RequestBody(std::move(b));
    }
    case Command::monitor: {
      MonitorRequest b;
      SHOAL_RETURN_IF_ERROR(fields("monitorRequest", [&](std::string_view n) -> Opt {
        if (n == "LogLevel") return read_value(r, b.log_level);
        return std::nullopt;
      }));
      return RequestBody(std::move(b));
    }
    case Command::stream: {
      StreamRequest b;
      SHOAL_RETURN_IF_ERROR(fields("streamRequest", [&](std::string_view n) -> Opt {
        if (n == "Type") return read_value(r, b.type);
        return std::nullopt;
      }));
      return RequestBody(std::move(b));
    }
    case Command::stop: {
      StopRequest b;
      SHOAL_RETURN_IF_ERROR(fields("stopRequest", [&](std::string_view n) -> Opt {
        if (n == "Stop") return read_value(r, b.stop);
        return std::nullopt;
      }));
      return RequestBody(b);
    }
    case Command::tags: {
      TagsRequest b;
      SHOAL_RETURN_IF_ERROR(fields("tagsRequest", [&](std::string_view n) -> Opt {
        if (n == "Tags") return read_value(r, b.tags);
        if (n == "DeleteTags") return read_value(r, b.delete_tags);
        return std::nullopt;
      }));
      return RequestBody(std::move(b));
    }
    case Command::query: {
      QueryRequest b;
      SHOAL_RETURN_IF_ERROR(fields("queryRequest", [&](std::string_view n) -> Opt {
        if (n == "FilterNodes") return read_value(r, b.filter_nodes);
        if (n == "FilterTags") return read_value(r, b.filter_tags);
        if (n == "RequestAck") return read_value(r, b.request_ack);
        if (n == "RelayFactor") return read_value(r, b.relay_factor);
        if (n == "Timeout") return read_value(r, b.timeout_ns);
        if (n == "Name") return read_value(r, b.name);
        if (n == "Payload") return read_value(r, b.payload);
        return std::nullopt;
      }));
      return RequestBody(std::move(b));
    }
    case Command::respond: {
      RespondRequest b;
      SHOAL_RETURN_IF_ERROR(fields("respondRequest", [&](std::string_view n) -> Opt {
        if (n == "ID") return read_value(r, b.id);
        if (n == "Payload") return read_value(r, b.payload);
        return std::nullopt;
      }));
      return RequestBody(std::move(b));
    }
    case Command::get_coordinate: {
      CoordinateRequest b;
      SHOAL_RETURN_IF_ERROR(fields("coordinateRequest", [&](std::string_view n) -> Opt {
        if (n == "Node") return read_value(r, b.node);
        return std::nullopt;
      }));
      return RequestBody(std::move(b));
    }
    case Command::unknown:
    case Command::members:
    case Command::leave:
    case Command::list_keys:
    case Command::stats:
      break;
  }
  return RequestBody(NoBody{});
}

void encode_member(ExtWriter& w, const gossip::Member& m) {
  w.base().write_map_header(11);
  w.key("Name");
  w.str(m.name);
  w.key("Addr");
  w.bin(m.addr.ip_bytes());
  w.key("Port");
  w.base().write_uint(m.addr.port);
  w.key("Tags");
  w.str_map(m.tags);
  w.key("Status");
  w.str(gossip::to_string(m.status));
  static constexpr std::array<std::string_view, 6> kVsn = {
      "ProtocolMin", "ProtocolMax", "ProtocolCur", "DelegateMin", "DelegateMax", "DelegateCur"};
  for (size_t i = 0; i < kVsn.size(); ++i) {
    w.key(kVsn[i]);
    w.base().write_uint(i < m.vsn.size() ? m.vsn[i] : 0);
  }
}

}  // namespace

Command command_from_name(std::string_view name) {
  for (const auto& c : kCommands) {
    if (c.name == name) return c.command;
  }
  return Command::unknown;
}

std::string_view command_name(Command c) {
  for (const auto& e : kCommands) {
    if (e.command == c) return e.name;
  }
  return "unknown";
}

bool has_request_body(Command c) {
  for (const auto& e : kCommands) {
    if (e.command == c) return e.body;
  }
  return false;
}

// ---- RequestDecoder --------------------------------------------------------------------

void RequestDecoder::feed(ByteView data) {
  if (broken_) return;
  // Compact once the consumed prefix dominates, so the buffer stays O(unread).
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ = 0;
  }
  buf_.insert(buf_.end(), data.begin(), data.end());
}

Result<std::optional<size_t>> RequestDecoder::complete_value_at(size_t offset) const {
  const ByteView rest = ByteView(buf_).subspan(offset);
  auto len = gossip::msgpack_value_length(rest);
  if (!len.ok()) return len.status();
  if (!len->has_value()) {
    if (rest.size() > max_value_bytes_) {
      return Status::invalid_argument("a request value is larger than " +
                                      std::to_string(max_value_bytes_) + " bytes");
    }
    return std::optional<size_t>();
  }
  if (**len > max_value_bytes_) {
    return Status::invalid_argument("a request value of " + std::to_string(**len) +
                                    " bytes is larger than " + std::to_string(max_value_bytes_));
  }
  return len;
}

Result<std::optional<Request>> RequestDecoder::next() {
  if (broken_) return Status::failed_precondition("the request stream was abandoned");
  auto fail = [this](Status st) -> Result<std::optional<Request>> {
    broken_ = true;
    return st;
  };
  auto header_len = complete_value_at(pos_);
  if (!header_len.ok()) return fail(header_len.status().with_context("request header"));
  if (!header_len->has_value()) return std::optional<Request>();

  Request req;
  std::string command;
  MsgpackReader hr(ByteView(buf_).subspan(pos_, **header_len));
  Status st = gossip::read_struct(hr, "requestHeader", [&](std::string_view name) -> Status {
    if (name == "Command") return read_value(hr, command);
    if (name == "Seq") return read_value(hr, req.seq);
    return hr.skip();
  });
  if (!st.ok()) return fail(st);
  req.command = command_from_name(command);
  req.command_name =
      gossip::printable_name(ByteView(reinterpret_cast<const uint8_t*>(command.data()),
                                      command.size()));
  size_t used = **header_len;
  if (req.command == Command::unknown) {
    broken_ = true;  // whether a body follows is unknown: the stream cannot be framed
    pos_ = buf_.size();
    return std::optional<Request>(std::move(req));
  }
  if (has_request_body(req.command)) {
    auto body_len = complete_value_at(pos_ + used);
    if (!body_len.ok()) {
      broken_ = true;
      req.body_error = body_len.status().with_context("request body");
      return std::optional<Request>(std::move(req));
    }
    if (!body_len->has_value()) return std::optional<Request>();  // header re-read later
    MsgpackReader br(ByteView(buf_).subspan(pos_ + used, **body_len));
    auto body = decode_body(req.command, br);
    used += **body_len;
    if (!body.ok()) {
      broken_ = true;
      req.body_error = body.status();
      return std::optional<Request>(std::move(req));
    }
    req.body = std::move(*body);
  }
  pos_ += used;
  return std::optional<Request>(std::move(req));
}

// ---- responses -------------------------------------------------------------------------

void encode_response_header(Bytes& out, uint64_t seq, std::string_view error) {
  ExtWriter w(out);
  w.base().write_map_header(2);
  w.key("Seq");
  w.base().write_uint(seq);
  w.key("Error");
  w.str(error);
}

void encode_members_response(Bytes& out, const std::vector<gossip::Member>& members) {
  ExtWriter w(out);
  w.base().write_map_header(1);
  w.key("Members");
  w.base().write_array_header(members.size());
  for (const auto& m : members) encode_member(w, m);
}

void encode_join_response(Bytes& out, int32_t num) {
  ExtWriter w(out);
  w.base().write_map_header(1);
  w.key("Num");
  w.base().write_int(num);
}

void encode_key_response(Bytes& out, const KeyResponse& r, bool with_keys) {
  ExtWriter w(out);
  w.base().write_map_header(5);
  w.key("Messages");
  w.str_map(r.messages);
  w.key("Keys");
  if (with_keys) {
    w.base().write_map_header(r.keys.size());
    for (const auto& [k, n] : r.keys) {
      w.str(k);
      w.base().write_int(n);
    }
  } else {
    w.base().write_nil();
  }
  w.key("NumNodes");
  w.base().write_int(r.num_nodes);
  w.key("NumErr");
  w.base().write_int(r.num_err);
  w.key("NumResp");
  w.base().write_int(r.num_resp);
}

void encode_stats_response(Bytes& out, const StatsResponse& stats) {
  ExtWriter w(out);
  w.base().write_map_header(stats.size());
  for (const auto& [section, values] : stats) {
    w.str(section);
    w.str_map(values);
  }
}

void encode_no_coordinate_response(Bytes& out) {
  ExtWriter w(out);
  w.base().write_map_header(2);
  w.key("Coord");
  w.base().write_map_header(4);
  w.key("Vec");
  w.base().write_nil();
  w.key("Error");
  w.f64(0);
  w.key("Adjustment");
  w.f64(0);
  w.key("Height");
  w.f64(0);
  w.key("Ok");
  w.base().write_bool(false);
}

void encode_query_record(Bytes& out, std::string_view type, std::string_view from,
                         ByteView payload) {
  ExtWriter w(out);
  w.base().write_map_header(3);
  w.key("Type");
  w.str(type);
  w.key("From");
  w.str(from);
  w.key("Payload");
  w.bin(payload);
}

void encode_log_record(Bytes& out, std::string_view line) {
  ExtWriter w(out);
  w.base().write_map_header(1);
  w.key("Log");
  w.str(line);
}

void encode_user_event_record(Bytes& out, const gossip::UserEvent& ev) {
  ExtWriter w(out);
  w.base().write_map_header(5);
  w.key("Event");
  w.str("user");
  w.key("LTime");
  w.base().write_uint(ev.ltime);
  w.key("Name");
  w.str(ev.name);
  w.key("Payload");
  w.bin(ev.payload);
  w.key("Coalesce");
  w.base().write_bool(ev.coalesce);
}

void encode_query_event_record(Bytes& out, uint64_t id, const gossip::QueryReceived& q) {
  ExtWriter w(out);
  w.base().write_map_header(5);
  w.key("Event");
  w.str("query");
  w.key("ID");
  w.base().write_uint(id);
  w.key("LTime");
  w.base().write_uint(q.ltime);
  w.key("Name");
  w.str(q.name);
  w.key("Payload");
  w.bin(q.payload);
}

void encode_member_event_record(Bytes& out, std::string_view event,
                                const std::vector<gossip::Member>& members) {
  ExtWriter w(out);
  w.base().write_map_header(2);
  w.key("Event");
  w.str(event);
  w.key("Members");
  w.base().write_array_header(members.size());
  for (const auto& m : members) encode_member(w, m);
}

// ---- client side -----------------------------------------------------------------------

Bytes encode_request(std::string_view command, uint64_t seq, ByteView body) {
  Bytes out;
  ExtWriter w(out);
  w.base().write_map_header(2);
  w.key("Command");
  w.str(command);
  w.key("Seq");
  w.base().write_uint(seq);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<std::optional<ResponseHeader>> decode_response_header(ByteView data, size_t* used) {
  auto len = gossip::msgpack_value_length(data);
  if (!len.ok()) return len.status();
  if (!len->has_value()) return std::optional<ResponseHeader>();
  ResponseHeader h;
  MsgpackReader r(data.subspan(0, **len));
  SHOAL_RETURN_IF_ERROR(gossip::read_struct(r, "responseHeader", [&](std::string_view n) {
    if (n == "Seq") return read_value(r, h.seq);
    if (n == "Error") return read_value(r, h.error);
    return r.skip();
  }));
  *used = **len;
  return std::optional<ResponseHeader>(std::move(h));
}

}  // namespace shoal::node::serf_rpc
