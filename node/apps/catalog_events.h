// node/apps/catalog_events.h
//
// CatalogEvents: the catalog's lifecycle event log (event_log.h): nodes joining, failing,
// coming back and leaving, apps created and destroyed, nodes drained, and who leads the
// catalog. Kept inside CatalogState, so every catalog replica holds the same log.
//
// Node events come from the catalog leader, which compares gossip's view with the status
// the catalog last recorded for each node and proposes catalog_node_status() for each
// difference. apply() records an event only when the status really changes, so a change
// is logged once however many leaders (or turns) propose it.
//
// Contract: deterministic (times from the commands; a command without one takes the
// newest seen); never fails on a command that is not its own; not thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "node/apps/event_log.h"

namespace shoal::node::apps {

inline constexpr size_t kMaxNodeStatuses = 10'000;

// status: alive | failed | left. [recorded: bool]
Bytes catalog_node_status(std::string_view node, std::string_view status, int64_t now_ms);
// `node` leads the catalog in `term`; recorded once per term. [recorded: bool]
Bytes catalog_leader_changed(std::string_view node, uint64_t term, int64_t now_ms);

class CatalogEvents {
 public:
  bool is_event_op(std::string_view op) const {
    return op == "node_status" || op == "leader_changed";
  }
  Bytes apply_op(const nlohmann::json& command);
  // After any other command: app_created, app_destroyed, node_drain.
  void derive(const nlohmann::json& command, ByteView result);

  const EventLog& log() const { return log_; }
  // The status last recorded per node ("alive", "failed", "left").
  const std::map<std::string, std::string>& node_status() const { return node_status_; }

  nlohmann::json to_json() const;
  static Result<CatalogEvents> from_json(const nlohmann::json& j);
  bool operator==(const CatalogEvents&) const = default;

 private:
  int64_t time_of(const nlohmann::json& command);

  EventLog log_;
  std::map<std::string, std::string> node_status_;
  uint64_t leader_term_ = 0;
  int64_t last_ms_ = 0;
};

}  // namespace shoal::node::apps
