#include "gossip/key_query.h"

#include <fmt/format.h>

#include "gossip/messages.h"
#include "gossip/msgpack_reader.h"
#include "gossip/msgpack_writer.h"

namespace shoal::gossip {

std::string_view to_string(KeyOp op) {
  switch (op) {
    case KeyOp::install: return "install-key";
    case KeyOp::use: return "use-key";
    case KeyOp::remove: return "remove-key";
    case KeyOp::list: return "list-keys";
  }
  return "?";
}

std::string key_query_name(KeyOp op) { return "_serf_" + std::string(to_string(op)); }

std::optional<KeyOp> key_op_of_query(std::string_view name) {
  for (KeyOp op : {KeyOp::install, KeyOp::use, KeyOp::remove, KeyOp::list}) {
    if (name == key_query_name(op)) return op;
  }
  return std::nullopt;
}

Bytes encode_key_request(ByteView key) {
  Bytes out{static_cast<uint8_t>(SerfMessageType::key_request)};
  MsgpackWriter w(out);
  w.write_map_header(1);
  w.key("Key");
  w.write_go_bytes(key);
  return out;
}

Result<Bytes> decode_key_request(ByteView payload) {
  if (payload.empty() || payload[0] != static_cast<uint8_t>(SerfMessageType::key_request)) {
    return Status::corruption("key request: not a key request message");
  }
  MsgpackReader r(payload.subspan(1));
  Bytes key;
  Status s = read_struct(r, "key request", [&](std::string_view k) -> Status {
    if (k == "Key") return read_value(r, key);
    return r.skip();
  });
  if (!s.ok()) return s;
  return key;
}

Bytes encode_key_response(const NodeKeyResponse& m) {
  Bytes out{static_cast<uint8_t>(SerfMessageType::key_response)};
  MsgpackWriter w(out);
  w.write_map_header(4);
  w.key("Keys");
  if (m.keys.empty()) {
    w.write_nil();  // Go's nil slice
  } else {
    w.write_array_header(m.keys.size());
    for (const auto& k : m.keys) w.write_str(k);
  }
  w.key("Message");
  w.write_str(m.message);
  w.key("PrimaryKey");
  w.write_str(m.primary_key);
  w.key("Result");
  w.write_bool(m.result);
  return out;
}

Result<NodeKeyResponse> decode_key_response(ByteView payload) {
  if (payload.empty() || payload[0] != static_cast<uint8_t>(SerfMessageType::key_response)) {
    return Status::corruption("key response: not a key response message");
  }
  MsgpackReader r(payload.subspan(1));
  NodeKeyResponse m;
  Status s = read_struct(r, "key response", [&](std::string_view k) -> Status {
    if (k == "Keys") return read_value(r, m.keys);
    if (k == "Message") return read_value(r, m.message);
    if (k == "PrimaryKey") return read_value(r, m.primary_key);
    if (k == "Result") return read_value(r, m.result);
    return r.skip();
  });
  if (!s.ok()) return s;
  return m;
}

NodeKeyResponse handle_key_query(KeyOp op, ByteView payload, Keyring& keyring, bool* changed,
                                 size_t list_limit) {
  NodeKeyResponse resp;
  *changed = false;
  if (op == KeyOp::list) {
    if (!keyring.enabled()) {
      resp.message = "Keyring is empty (encryption not enabled)";
      return resp;
    }
    for (const Bytes& k : keyring.keys()) resp.keys.push_back(key_to_base64(k));
    resp.primary_key = key_to_base64(keyring.primary());
    if (resp.keys.size() > list_limit) {
      resp.message = fmt::format("truncated key list response, showing first {} of {} keys",
                                 list_limit, resp.keys.size());
      resp.keys.resize(list_limit);
    }
    resp.result = true;
    return resp;
  }
  auto key = decode_key_request(payload);
  if (!key.ok()) {
    resp.message = "failed to decode key request: " + key.status().message();
    return resp;
  }
  if (!keyring.enabled()) {
    resp.message = "No keyring to modify (encryption not enabled)";
    return resp;
  }
  const std::vector<Bytes> before = keyring.keys();
  Status s;
  switch (op) {
    case KeyOp::install: s = keyring.install(*key); break;
    case KeyOp::use: s = keyring.use(*key); break;
    case KeyOp::remove: s = keyring.remove(*key); break;
    case KeyOp::list: break;
  }
  if (!s.ok()) {
    resp.message = s.message();
    return resp;
  }
  *changed = keyring.keys() != before;
  resp.result = true;
  return resp;
}

void KeyReport::add(const std::string& from, ByteView payload) {
  ++num_resp;
  auto r = decode_key_response(payload);
  if (!r.ok()) {
    messages[from] = "invalid key query response: " + r.status().message();
    ++num_err;
    return;
  }
  if (!r->result) {
    messages[from] = r->message;
    ++num_err;
  } else if (!r->message.empty()) {
    messages[from] = r->message;
  }
  for (const auto& k : r->keys) ++keys[k];
  if (!r->primary_key.empty()) ++primary_keys[r->primary_key];
}

Status KeyReport::status() const {
  if (num_err != 0) {
    return Status::unavailable(fmt::format("{}/{} nodes reported failure", num_err, num_nodes));
  }
  if (num_resp != num_nodes) {
    return Status::unavailable(fmt::format("{}/{} nodes reported success", num_resp, num_nodes));
  }
  return Status::ok_status();
}

}  // namespace shoal::gossip
