// Scenario::validate(): what a file can only be judged on once the run's node count and
// engine are final (after a --nodes override), so it is not part of parsing.
#include <fmt/format.h>

#include "simulations/scenario.h"

namespace shoal::sim {

Status Scenario::validate() const {
  auto check = [&](const NodeSelector& sel, const FaultEvent& e) -> Status {
    for (int64_t i : sel.indices) {
      if (i >= nodes || i < -nodes) {
        return Status::invalid_argument(fmt::format(
            "{}: {}: node {} is out of range for a cluster of {} nodes", file, e.where, i, nodes));
      }
    }
    return Status();
  };
  for (const auto& e : timeline) {
    SHOAL_RETURN_IF_ERROR(check(e.nodes, e));
    SHOAL_RETURN_IF_ERROR(check(e.others, e));
  }
  const bool is_raft = engine == "raft" || engine == "apps";
  for (const auto& e : timeline) {
    using K = FaultEvent::Kind;
    const bool raft_only = e.kind == K::add_voter || e.kind == K::remove || e.kind == K::transfer;
    const bool gossip_only = e.kind == K::leave || e.kind == K::bandwidth;
    if (raft_only && engine != "raft") {
      return Status::invalid_argument(fmt::format("{}: {}: {} needs cluster.engine = \"raft\"", file, e.where, to_string(e.kind)));
    }
    if (gossip_only && is_raft) {
      return Status::invalid_argument(fmt::format("{}: {}: {} is not modelled for the raft engine", file, e.where, to_string(e.kind)));
    }
    if (e.kind == K::event && engine != "serf") {
      return Status::invalid_argument(fmt::format(
          "{}: {}: event sends Serf user events and needs cluster.engine = \"serf\" (this is \"{}\")",
          file, e.where, engine));
    }
  }
  if (checks.events_within && engine != "serf") {
    return Status::invalid_argument(fmt::format(
        "{}: checks.events_within judges Serf user events and needs cluster.engine = \"serf\" "
        "(this is \"{}\")", file, engine));
  }
  if (engine == "apps") {
    using K = FaultEvent::Kind;
    for (const auto& e : timeline) {
      if (e.kind != K::kill && e.kind != K::restart && e.kind != K::partition && e.kind != K::heal &&
          e.kind != K::link && e.kind != K::clear_link && e.kind != K::pause) {
        return Status::invalid_argument(fmt::format("{}: {}: {} is not modelled for the apps engine", file, e.where, to_string(e.kind)));
      }
    }
    if (apps.voters > nodes) {
      return Status::invalid_argument(fmt::format("{}: apps.voters ({}) exceeds the node count ({})", file, apps.voters, nodes));
    }
  }
  if (engine == "raft" && raft.voters > nodes) {
    return Status::invalid_argument(fmt::format("{}: raft.voters ({}) exceeds the node count ({})", file, raft.voters, nodes));
  }
  if (warm_start && engine != "memberlist") {
    return Status::invalid_argument(fmt::format(
        "{}: cluster.warm_start needs engine = \"memberlist\" (the Serf layer has no quiet way "
        "to learn members)", file));
  }
  if (seeds > nodes) {
    return Status::invalid_argument(fmt::format("{}: cluster.seeds ({}) exceeds the node count ({})", file, seeds, nodes));
  }
  return Status();
}

}  // namespace shoal::sim
