// gossip/tags.cc — Serf tag encoding in node meta; see the header.
#include "gossip/tags.h"

#include <fmt/format.h>

#include "gossip/messages.h"
#include "gossip/msgpack_reader.h"
#include "gossip/msgpack_writer.h"

namespace shoal::gossip {

Result<Bytes> encode_tags(const Tags& tags) {
  Bytes out{kTagMagicByte};
  MsgpackWriter w(out);
  // Go iterates its map in random order; sorted keys give the same bytes every time.
  w.write_map_header(tags.size());
  for (const auto& [key, value] : tags) {
    w.write_str(key);
    w.write_str(value);
  }
  if (out.size() > kMetaMaxSize) {
    return Status::invalid_argument(
        fmt::format("encoded tags take {} bytes, more than the limit of {}", out.size(), kMetaMaxSize));
  }
  return out;
}

Result<Tags> decode_tags(ByteView meta) {
  Tags tags;
  if (meta.empty() || meta[0] != kTagMagicByte) {
    tags["role"] = std::string(as_string_view(meta));  // Serf protocol < 3: meta is the role
    return tags;
  }
  MsgpackReader r(meta.subspan(1));
  Status s = read_value(r, tags);
  if (!s.ok()) return s.with_context("tags");
  return tags;
}

}  // namespace shoal::gossip
