// simulations/apps/apps_sim.h
//
// run_apps_scenario(): a scenario with cluster.engine = "apps" (docs/simulator.md, "Apps"):
// the real AppState, scheduler and SupervisorCore over the simulated cluster, one seed, one
// report. run_scenario() (simulator.h) sends apps scenarios here.
//
// Contract: as run_scenario(); RunReport::checks holds one outcome per check (formation
// restored, no instance twice, fencing, acknowledged releases kept, ...). The summary is
// deterministic; no CSV, no SVG.
#pragma once

#include "simulations/scenario.h"
#include "simulations/simulator.h"

namespace shoal::sim {

Result<RunReport> run_apps_scenario(const Scenario& scenario, const RunOptions& options);

}  // namespace shoal::sim
