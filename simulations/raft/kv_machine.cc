#include "simulations/raft/kv_machine.h"

#include <fmt/format.h>

namespace shoal::sim {

namespace {

void put_u64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_str(Bytes& out, const std::string& s) {
  const auto n = static_cast<uint32_t>(s.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  out.insert(out.end(), s.begin(), s.end());
}

class Reader {
 public:
  explicit Reader(ByteView b) : b_(b) {}
  bool u64(uint64_t& v) {
    if (b_.size() - pos_ < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{b_[pos_ + i]} << (8 * i);
    pos_ += 8;
    return true;
  }
  bool str(std::string& s) {
    if (b_.size() - pos_ < 4) return false;
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= uint32_t{b_[pos_ + i]} << (8 * i);
    pos_ += 4;
    if (b_.size() - pos_ < n) return false;
    s.assign(reinterpret_cast<const char*>(b_.data()) + pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == b_.size(); }

 private:
  ByteView b_;
  size_t pos_ = 0;
};

}  // namespace

Bytes encode_kv_command(const KvCommand& c) {
  Bytes out;
  put_u64(out, c.client);
  put_u64(out, c.seq);
  put_str(out, c.key);
  put_str(out, c.value);
  return out;
}

Result<KvCommand> decode_kv_command(ByteView data) {
  KvCommand c;
  Reader r(data);
  if (!r.u64(c.client) || !r.u64(c.seq) || !r.str(c.key) || !r.str(c.value) || !r.done()) {
    return Status::corruption(fmt::format("kv command of {} bytes does not decode", data.size()));
  }
  return c;
}

Status KvMachine::apply(const raft::Entry& e) {
  if (e.index != index_ + 1) {
    return Status::failed_precondition(
        fmt::format("kv machine at {} was handed entry {}", index_, e.index));
  }
  index_ = e.index;
  if (e.type != raft::EntryType::normal) return Status::ok_status();
  auto c = decode_kv_command(e.data);
  if (!c.ok()) return c.status().with_context(fmt::format("entry {}", e.index));
  uint64_t& last = last_seq_[c->client];
  if (c->seq <= last) return Status::ok_status();  // a duplicate proposal
  last = c->seq;
  data_[c->key] = c->value;
  return Status::ok_status();
}

std::string KvMachine::get(const std::string& key) const {
  auto it = data_.find(key);
  return it == data_.end() ? std::string() : it->second;
}

bool KvMachine::applied(uint64_t client, uint64_t seq) const {
  auto it = last_seq_.find(client);
  return it != last_seq_.end() && it->second >= seq;
}

Bytes KvMachine::snapshot() const {
  Bytes out;
  put_u64(out, index_);
  put_u64(out, data_.size());
  for (const auto& [k, v] : data_) {
    put_str(out, k);
    put_str(out, v);
  }
  put_u64(out, last_seq_.size());
  for (const auto& [c, s] : last_seq_) {
    put_u64(out, c);
    put_u64(out, s);
  }
  return out;
}

Status KvMachine::restore(ByteView data, raft::Index index) {
  KvMachine m;
  m.index_ = index;
  if (!data.empty()) {
    Reader r(data);
    uint64_t n = 0, at = 0;
    bool ok = r.u64(at) && r.u64(n);
    for (uint64_t i = 0; ok && i < n; ++i) {
      std::string k, v;
      ok = r.str(k) && r.str(v);
      m.data_[k] = v;
    }
    ok = ok && r.u64(n);
    for (uint64_t i = 0; ok && i < n; ++i) {
      uint64_t c = 0, s = 0;
      ok = r.u64(c) && r.u64(s);
      m.last_seq_[c] = s;
    }
    if (!ok || !r.done()) return Status::corruption("kv snapshot does not decode");
    if (at != index) {
      return Status::corruption(fmt::format("kv snapshot of index {} restored as {}", at, index));
    }
  }
  *this = std::move(m);
  return Status::ok_status();
}

}  // namespace shoal::sim
