// gossip/query.h
//
// What a caller gives Serf::query, and the hook through which the core answers Serf's
// internal queries (`_serf_ping`, `_serf_conflict`, and the keyring's `_serf_*-key`).
//
// Internal queries are queries whose name starts with kInternalQueryPrefix. The core
// answers them itself through the handler registered for the full name
// (Serf::set_internal_query_handler) and never reports them to the shell as
// QueryReceived; an internal query with no handler is logged and left unanswered, as
// serf does.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/time.h"
#include "gossip/events.h"

namespace shoal::gossip {

inline constexpr std::string_view kInternalQueryPrefix = "_serf_";
inline constexpr std::string_view kPingQuery = "_serf_ping";
inline constexpr std::string_view kConflictQuery = "_serf_conflict";

inline bool is_internal_query(std::string_view name) {
  return name.substr(0, kInternalQueryPrefix.size()) == kInternalQueryPrefix;
}

struct QueryParams {
  std::vector<std::string> filter_nodes;          // only these nodes answer (empty: all)
  std::map<std::string, std::string> filter_tags;  // tag -> regex the value must match
  bool request_ack = false;                       // every node passing the filters acks
  uint8_t relay_factor = 0;  // each answer is also relayed through this many other nodes
  Duration timeout{};        // zero: Serf::default_query_timeout()
};

// What Serf::query started.
struct QueryStarted {
  LamportTime query = 0;  // names this query in QueryAck/Response/Finished actions
  uint32_t id = 0;        // the wire ID
  TimePoint deadline{};
};

// Answers one internal query. Called inside the core (on its strand) with the query as
// the shell would have seen it; `q.max_payload` is the largest payload that fits
// the response size limit. Returns the response payload, or nullopt for no response (the
// ack, if asked for, has already gone out). A handler may instead keep q.token and
// answer later with Serf::respond. It must not call other Serf entry points.
using InternalQueryHandler =
    std::function<std::optional<Bytes>(const QueryReceived& q, TimePoint now)>;

}  // namespace shoal::gossip
