// simulations/raft/raft_sim.h
//
// run_raft_scenario(): a scenario with cluster.engine = "raft" (see docs/simulator.md, "Raft
// groups"), one seed, one report. run_scenario() (simulator.h) sends raft scenarios here, so
// `shoal sim run` and `shoal sim sweep` take them like any other.
//
// Contract: as run_scenario(); RunReport::checks holds one outcome per safety property
// (election safety, log matching, leader completeness, state machine safety, the core's own
// invariants, linearizability of the client history) and per liveness minimum the scenario
// asks for. The summary and CSV (per node per sample: role, term, commit, applied, last
// index, snapshot index) are deterministic; no SVG.
#pragma once

#include "simulations/scenario.h"
#include "simulations/simulator.h"

namespace shoal::sim {

Result<RunReport> run_raft_scenario(const Scenario& scenario, const RunOptions& options);

inline constexpr const char* kRaftCsvHeader =
    "t_s,node,up,role,term,commit,applied,last_index,snapshot_index,voter\n";

}  // namespace shoal::sim
