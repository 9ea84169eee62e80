#include "raft/kv_state_machine.h"

#include <fmt/format.h>

#include "raft/msgpack.h"

namespace shoal::raft {

using msgpack::MsgReader;
using msgpack::MsgWriter;

Bytes KvStateMachine::put_command(std::string_view key, ByteView value) {
  MsgWriter w;
  w.array(3), w.uint(0), w.str(key), w.bin(value);
  return w.take();
}

Bytes KvStateMachine::delete_command(std::string_view key) {
  MsgWriter w;
  w.array(2), w.uint(1), w.str(key);
  return w.take();
}

Bytes KvStateMachine::apply(const Entry& entry) {
  MsgReader r(entry.data);
  const uint32_t n = r.array(2, 3);
  const uint64_t op = r.uint();
  std::string key = r.str(kKvMaxKeyBytes);
  if (r.ok() && op == 0 && n == 3) {
    Bytes value = r.bin(kKvMaxValueBytes);
    if (r.ok() && r.at_end()) {
      map_[std::move(key)] = std::move(value);
      return {};
    }
  } else if (r.ok() && op == 1 && n == 2 && r.at_end()) {
    map_.erase(key);
    return {};
  }
  if (r.ok()) r.fail(fmt::format("unknown kv command {} with {} fields", op, n));
  return to_bytes("error: " + r.error());
}

Bytes KvStateMachine::snapshot() const {
  MsgWriter w;
  w.array(static_cast<uint32_t>(map_.size()));
  for (const auto& [k, v] : map_) {
    w.array(2), w.str(k), w.bin(v);
  }
  return w.take();
}

Status KvStateMachine::restore(ByteView data) {
  std::map<std::string, Bytes> map;
  if (!data.empty()) {  // a new group's first snapshot holds nothing
    MsgReader r(data);
    const uint32_t n = r.array();
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
      r.array(2, 2);
      std::string k = r.str(kKvMaxKeyBytes);
      Bytes v = r.bin(kKvMaxValueBytes);
      map.emplace(std::move(k), std::move(v));
    }
    if (!r.ok() || !r.at_end()) {
      return Status::corruption("kv snapshot does not decode: " +
                                (r.ok() ? std::string("trailing bytes") : r.error()));
    }
  }
  map_ = std::move(map);
  return Status::ok_status();
}

std::optional<Bytes> KvStateMachine::get(const std::string& key) const {
  auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

}  // namespace shoal::raft
