#include "gossip/key_manager.h"

#include <spdlog/spdlog.h>

#include "gossip/key_query.h"

namespace shoal::gossip {

namespace {
// A listed key costs at most 47 bytes (str16 header + 44 base64 characters); the rest of
// the response (field names, message, primary key) stays under 160.
constexpr size_t kListedKeyBytes = 47;
constexpr size_t kListOverhead = 160;
}  // namespace

void serve_key_queries(Serf& serf, KeyringSaver save) {
  for (KeyOp op : {KeyOp::install, KeyOp::use, KeyOp::remove, KeyOp::list}) {
    serf.set_internal_query_handler(
        key_query_name(op),
        [&serf, op, save](const QueryReceived& q, TimePoint) -> std::optional<Bytes> {
          const size_t list_limit =
              q.max_payload > kListOverhead ? (q.max_payload - kListOverhead) / kListedKeyBytes : 0;
          bool changed = false;
          NodeKeyResponse r = handle_key_query(op, q.payload, serf.keyring(), &changed, list_limit);
          if (changed && save) {
            if (Status s = save(serf.keyring()); !s.ok()) {
              r.result = false;
              r.message = "failed to write the keyring file: " + s.message();
            }
          }
          if (r.result) {
            spdlog::info("keyring-query op={} from={} keys={}", to_string(op), q.source_node,
                         serf.keyring().keys().size());
          } else {
            spdlog::warn("keyring-query-failed op={} from={} error=\"{}\"", to_string(op),
                         q.source_node, r.message);
          }
          return encode_key_response(r);
        });
  }
}

}  // namespace shoal::gossip
