// simulations/sim_cli.h
//
// The `sim` verbs, for both `shoal sim ...` and the standalone `shoal-sim`:
//   sim run SCENARIO --seed N [--nodes N] [--out DIR]
//       one run; prints the summary and this machine's cost (wall time, simulated seconds
//       per wall second, peak RSS); with --out writes SCENARIO-seedN.{txt,csv,svg}.
//   sim sweep SCENARIO --seeds 1..K [--jobs J] [--nodes N]
//       runs every seed in J worker processes (each run single-threaded and independent),
//       prints one line per seed and, for each failing seed, the one command reproducing it.
// Exit status: 0 all checks passed, 1 some check failed, 2 bad usage or a bad scenario.
#pragma once

#include <CLI/CLI.hpp>

namespace shoal::sim {

void add_sim_commands(CLI::App& app);

}  // namespace shoal::sim
